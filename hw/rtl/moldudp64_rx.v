// MoldUDP64 receive: session, sequence tracking, heartbeats, duplicates, gaps.
//
// s_axis carries one UDP payload per packet; the kept lanes of each beat are
// one contiguous run (the first beat may start at any lane). The 20-byte
// MoldUDP64 header (session 10, sequence 8, count 2) is read wherever it
// falls and nulled out of tkeep, so m_axis carries the message blocks only.
// m_mold_seq (sequence of the first block) is valid with a packet's first
// beat on m_axis; m_mold_skip (leading blocks already seen, to be dropped
// downstream) and m_mold_drop (the whole packet was seen: drop it) are valid
// from two cycles after that beat is taken until the next packet's first beat
// is taken. The sequence decision is made in the two cycles after the beat
// that completes the header, from the registered header (see verdict_due and
// decide_due below), and the beats go on meanwhile; the consumer holds back
// any message of the packet until the decision is there.
//
// Sequence policy (one active session):
//   - a packet from a session other than the current one starts that
//     session: the expected sequence becomes the packet's sequence;
//   - heartbeat (count 0) and end of session (count 0xFFFF) carry the next
//     sequence: a sequence beyond the expected one flags a gap and moves the
//     expected sequence on; the packet itself is dropped;
//   - a packet wholly at or below the expected sequence is a duplicate: its
//     beats leave marked m_mold_drop; one that overlaps it has its leading
//     blocks skipped;
//   - a packet ahead of the expected sequence flags the gap (first missing
//     sequence, count) on gap_* and is accepted: the host re-requests the
//     gap, and a late (reordered) packet for it counts as a duplicate here;
//   - a packet whose last beat has tuser set inside the header is ignored
//     (the filter counted the frame); one shorter than the header is counted.
// The expected sequence advances by the header's count when the header is
// accepted.

module moldudp64_rx #(
    parameter DATA_WIDTH = 64,
    parameter KEEP_WIDTH = DATA_WIDTH/8
) (
    input  wire                  clk,
    input  wire                  rst,

    input  wire [DATA_WIDTH-1:0] s_axis_tdata,
    input  wire [KEEP_WIDTH-1:0] s_axis_tkeep,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    input  wire                  s_axis_tlast,
    input  wire                  s_axis_tuser,

    output reg  [DATA_WIDTH-1:0] m_axis_tdata,
    output reg  [KEEP_WIDTH-1:0] m_axis_tkeep,
    output reg                   m_axis_tvalid,
    input  wire                  m_axis_tready,
    output reg                   m_axis_tlast,
    output reg                   m_axis_tuser,
    output reg  [63:0]           m_mold_seq,
    output reg  [15:0]           m_mold_skip,
    output reg                   m_mold_drop,

    // one-cycle strobe per flagged gap, the cycle after the header that shows
    // it: missing sequences [first, first+count)
    output reg                   gap_valid,
    output reg  [63:0]           gap_first_seq,
    output reg  [63:0]           gap_count,

    output reg  [63:0]           status_expected_seq,

    output reg                   stat_packet,
    output reg                   stat_packet_short,
    output reg                   stat_heartbeat,
    output reg                   stat_end_of_session,
    output reg                   stat_session,
    output reg                   stat_dup_packet,
    output reg  [15:0]           stat_dup_messages
);

initial begin
    if (DATA_WIDTH != 32 && DATA_WIDTH != 64 && DATA_WIDTH != 128) begin
        $error("moldudp64_rx: DATA_WIDTH must be 32, 64 or 128");
        $finish;
    end
    if (KEEP_WIDTH*8 != DATA_WIDTH) begin
        $error("moldudp64_rx: KEEP_WIDTH must be DATA_WIDTH/8");
        $finish;
    end
end

localparam HDR_BYTES = 20;
localparam COUNT_WIDTH = $clog2(KEEP_WIDTH+1);
localparam LOG_KEEP = $clog2(KEEP_WIDTH);

reg  [HDR_BYTES*8-1:0] hdr_reg;
reg  [5:0]             pkt_ptr;     // payload bytes before this beat, saturating at 20
reg                    forwarding;  // header accepted, blocks go on
reg                    have_session;
reg  [79:0]            session;
reg  [63:0]            expected_seq;

wire out_free = !m_axis_tvalid || m_axis_tready;
assign s_axis_tready = out_free;
wire s_fire = s_axis_tvalid && s_axis_tready;

reg [COUNT_WIDTH-1:0] keep_count;
reg [LOG_KEEP-1:0]    first_lane;
integer i;
always @* begin
    keep_count = 0;
    first_lane = 0;
    for (i = KEEP_WIDTH-1; i >= 0; i = i - 1) begin
        keep_count = keep_count + {{(COUNT_WIDTH-1){1'b0}}, s_axis_tkeep[i]};
        if (s_axis_tkeep[i])
            first_lane = i[LOG_KEEP-1:0];
    end
end

// Header bytes seen so far merged with the incoming beat. Only a packet's
// first beat may start past lane 0, and it holds header bytes only (a beat is
// at most 16 bytes): its lanes shift down by first_lane. Every later beat
// starts at lane 0, so its lane k is header byte pkt_ptr + k and the shift is
// by the registered pointer; the header completes in such a beat, so the
// fields read there (count, sequence) never wait for first_lane.
wire [DATA_WIDTH-1:0]           first_bytes = s_axis_tdata >> {first_lane, 3'b000};
wire [HDR_BYTES*8+DATA_WIDTH-1:0] later_bytes = {{(HDR_BYTES*8){1'b0}}, s_axis_tdata} << {pkt_ptr, 3'b000};
reg [HDR_BYTES*8-1:0] hv, hv_later;
integer j;
always @* begin
    hv_later = hdr_reg;
    hv = hdr_reg;
    for (j = 0; j < HDR_BYTES; j = j + 1) begin
        if (j >= pkt_ptr)
            hv_later[j*8 +: 8] = later_bytes[j*8 +: 8];
        if (pkt_ptr != 0)
            hv[j*8 +: 8] = hv_later[j*8 +: 8];
        else if (j < KEEP_WIDTH)
            hv[j*8 +: 8] = first_bytes[j*8 +: 8];
    end
end

// Per lane, as a table of the pointer (a constant per pointer value, no
// adder or compare), registered with the pointer for the next beat: whether
// the lane holds a header byte, and whether it holds the header's last byte
// (19) in a beat that is not the packet's first (a first beat of at most 16
// bytes never completes the header).
reg [KEEP_WIDTH-1:0] header_lanes;  // of the beat at pkt_ptr
reg [KEEP_WIDTH-1:0] header_end;    // one-hot or none: lane 19 - pkt_ptr
function [2*KEEP_WIDTH-1:0] lanes_at;  // {header_end, header_lanes} at pointer ptr
    input [5:0] ptr;
    integer at, k;
    begin
        lanes_at = {2*KEEP_WIDTH{1'b0}};
        for (at = 0; at <= HDR_BYTES; at = at + 1)
            if (ptr == at[5:0])
                for (k = 0; k < KEEP_WIDTH; k = k + 1) begin
                    lanes_at[k] = at == 0 || at + k < HDR_BYTES;
                    lanes_at[KEEP_WIDTH + k] = at != 0 && at + k == HDR_BYTES - 1;
                end
    end
endfunction

function [63:0] be_bytes;
    input [HDR_BYTES*8-1:0] h;
    input integer offset;
    input integer count;
    integer k;
    begin
        be_bytes = 0;
        for (k = 0; k < count; k = k + 1)
            be_bytes = {be_bytes[55:0], h[(offset+k)*8 +: 8]};
    end
endfunction

// In the beat that completes the header: forward unless it is a control packet.
// The header completes in this beat when its last byte's lane is kept: a
// keep bit selected by the registered one-hot lane, no count or adder in
// front of the decision.
localparam [5:0] KEEP_BYTES = KEEP_WIDTH[5:0];  // at most 16, no overflow past 20 + 16
wire      header_done_now = (s_axis_tkeep & header_end) != 0;
reg [5:0] pkt_ptr_next;   // payload bytes after a beat that is not the packet's last, saturating at 20
always @*
    pkt_ptr_next = pkt_ptr == 6'd0 ? {{(6-COUNT_WIDTH){1'b0}}, keep_count}
                 : pkt_ptr + KEEP_BYTES >= 6'd20 ? 6'd20 : pkt_ptr + KEEP_BYTES;
wire        header_ignored  = s_axis_tlast && s_axis_tuser;
wire        header_accepted = header_done_now && !header_ignored;
// A control packet (count 0 or 0xFFFF) is not forwarded. The count's last
// byte (header byte 19) is at lane 19 - pkt_ptr of the beat that completes
// the header, its first byte one lane below or, at lane 0, the last byte of
// the beat before: each lane's pair is compared on its own, and the
// registered one-hot lane selects one result.
reg [KEEP_WIDTH-1:0] control_pair;   // [k]: header bytes 18, 19 at lanes k-1, k are 0000 or FFFF
always @* begin
    control_pair[0] = (hdr_reg[18*8 +: 8] == 8'h00 && s_axis_tdata[7:0] == 8'h00)
                   || (hdr_reg[18*8 +: 8] == 8'hFF && s_axis_tdata[7:0] == 8'hFF);
    for (i = 1; i < KEEP_WIDTH; i = i + 1)
        control_pair[i] = s_axis_tdata[(i-1)*8 +: 16] == 16'h0000 || s_axis_tdata[(i-1)*8 +: 16] == 16'hFFFF;
end
wire        forward_now     = header_accepted && (control_pair & header_end) == 0;

// The sequence decision takes two cycles after the beat that completes the
// header, and no 64-bit carry chain: in the first (verdict_due) each 16-bit
// chunk of expected - seq, seq - expected and seq + count is summed for both
// carries in, and the session compared; in the second (decide_due) the
// carries ripple through four chunk selects and the decision is made. A new
// session takes the packet's own sequence, so nothing is ahead or seen.
localparam CHUNKS = 4;
reg         verdict_due, decide_due;
wire [63:0] pkt_session_head = be_bytes(hdr_reg, 0, 2);
wire [63:0] pkt_count_64     = be_bytes(hdr_reg, 18, 2);
wire [79:0] pkt_session      = {pkt_session_head[15:0], be_bytes(hdr_reg, 2, 8)};
wire [63:0] pkt_seq          = be_bytes(hdr_reg, 10, 8);
wire [15:0] pkt_count        = pkt_count_64[15:0];

reg         new_session;
reg  [63:0] seq;
reg  [15:0] count;
// per chunk c, bits [17c+16:17c]: the 16-bit sum and its carry (borrow) out,
// *_0 with no carry (borrow) in, *_1 with one
reg  [CHUNKS*17-1:0] behind_0, behind_1;  // expected - seq: borrow form
reg  [CHUNKS*17-1:0] gap_0, gap_1;        // seq - expected: borrow form
reg  [CHUNKS*17-1:0] next_0, next_1;      // seq + count: carry form

genvar g;
generate
    for (g = 0; g < CHUNKS; g = g + 1) begin : g_chunk
        wire [15:0] e = expected_seq[g*16 +: 16];
        wire [15:0] q = pkt_seq[g*16 +: 16];
        wire [16:0] e_plus_not_q = {1'b0, e} + {1'b0, ~q};  // e - q - 1, carry = no borrow
        wire [16:0] q_plus_not_e = {1'b0, q} + {1'b0, ~e};
        always @(posedge clk)
            if (verdict_due) begin
                behind_0[g*17 +: 17] <= {1'b0, e} - {1'b0, q};
                behind_1[g*17 +: 17] <= {~e_plus_not_q[16], e_plus_not_q[15:0]};
                gap_0[g*17 +: 17] <= {1'b0, q} - {1'b0, e};
                gap_1[g*17 +: 17] <= {~q_plus_not_e[16], q_plus_not_e[15:0]};
                next_0[g*17 +: 17] <= {1'b0, q} + (g == 0 ? {1'b0, pkt_count} : 17'd0);
                next_1[g*17 +: 17] <= {1'b0, q} + 17'd1;
            end
    end
endgenerate

// The carries through the chunks: chunk c takes *_1 when chunk c-1 carried (borrowed).
reg [63:0] behind, gap_length, next_seq;
reg        seq_ahead;
reg        behind_borrow, gap_borrow, next_carry;
integer c;
always @* begin
    behind_borrow = 1'b0;
    gap_borrow = 1'b0;
    next_carry = 1'b0;
    for (c = 0; c < CHUNKS; c = c + 1) begin
        {behind_borrow, behind[c*16 +: 16]} = behind_borrow ? behind_1[c*17 +: 17] : behind_0[c*17 +: 17];
        {gap_borrow, gap_length[c*16 +: 16]} = gap_borrow ? gap_1[c*17 +: 17] : gap_0[c*17 +: 17];
        {next_carry, next_seq[c*16 +: 16]} = next_carry ? next_1[c*17 +: 17] : next_0[c*17 +: 17];
    end
    seq_ahead = behind_borrow;
end

wire is_control = count == 16'd0 || count == 16'hFFFF;
wire ahead      = !new_session && seq_ahead;
wire all_seen   = !new_session && !is_control && !seq_ahead
                  && (behind[63:16] != 0 || behind[15:0] >= count);
wire overlaps   = !new_session && !is_control && !all_seen && !seq_ahead && behind[15:0] != 0;

// The next expected sequence and the gap length are taken the cycle after
// the decision, from the chunk sums of verdict_due: the next packet's header
// is complete two beats after this one's at the earliest (it is 20 bytes, a
// beat at most 16), and reaches verdict_due a cycle later still.
reg         end_pending;
reg         gap_pending;

always @(posedge clk) begin
    stat_packet <= 1'b0;
    stat_packet_short <= 1'b0;
    stat_heartbeat <= 1'b0;
    stat_end_of_session <= 1'b0;
    stat_session <= 1'b0;
    stat_dup_packet <= 1'b0;
    stat_dup_messages <= 16'd0;
    gap_valid <= gap_pending;
    gap_pending <= 1'b0;
    if (gap_pending)
        gap_count <= gap_length;
    end_pending <= 1'b0;
    if (end_pending)
        expected_seq <= next_seq;

    if (m_axis_tvalid && m_axis_tready)
        m_axis_tvalid <= 1'b0;

    verdict_due <= 1'b0;
    decide_due <= verdict_due;
    if (verdict_due) begin
        new_session <= !have_session || pkt_session != session;
        have_session <= 1'b1;
        session <= pkt_session;
        seq <= pkt_seq;
        count <= pkt_count;
    end

    if (decide_due) begin
        stat_packet <= 1'b1;
        stat_session <= new_session;
        gap_pending <= ahead;
        if (ahead)
            gap_first_seq <= expected_seq;
        if (is_control) begin
            stat_heartbeat <= count == 16'd0;
            stat_end_of_session <= count == 16'hFFFF;
            if (new_session || ahead)
                expected_seq <= seq;
        end else if (all_seen) begin
            stat_dup_packet <= 1'b1;
            stat_dup_messages <= count;
            m_mold_skip <= 16'd0;
            m_mold_drop <= 1'b1;
        end else begin
            stat_dup_messages <= overlaps ? behind[15:0] : 16'd0;
            end_pending <= 1'b1;
            m_mold_skip <= overlaps ? behind[15:0] : 16'd0;
            m_mold_drop <= 1'b0;
        end
    end

    if (s_fire) begin
        hdr_reg <= hv;
        pkt_ptr <= pkt_ptr_next;
        {header_end, header_lanes} <= lanes_at(pkt_ptr_next);
        verdict_due <= header_accepted;
        if (forward_now)
            m_mold_seq <= be_bytes(hv_later, 10, 8);

        if (forward_now || forwarding) begin
            forwarding <= 1'b1;
            if ((s_axis_tkeep & ~header_lanes) != 0 || s_axis_tlast) begin
                m_axis_tdata <= s_axis_tdata;
                m_axis_tkeep <= s_axis_tkeep & ~header_lanes;
                m_axis_tlast <= s_axis_tlast;
                m_axis_tuser <= s_axis_tuser;
                m_axis_tvalid <= 1'b1;
            end
        end

        if (s_axis_tlast) begin
            stat_packet_short <= pkt_ptr < 6'd20 && !header_done_now && !s_axis_tuser;
            pkt_ptr <= 0;
            {header_end, header_lanes} <= lanes_at(6'd0);
            forwarding <= 1'b0;
        end
    end

    status_expected_seq <= expected_seq;

    if (rst) begin
        pkt_ptr <= 0;
        {header_end, header_lanes} <= lanes_at(6'd0);
        forwarding <= 1'b0;
        verdict_due <= 1'b0;
        decide_due <= 1'b0;
        have_session <= 1'b0;
        expected_seq <= 64'd0;
        m_axis_tvalid <= 1'b0;
        gap_valid <= 1'b0;
        gap_pending <= 1'b0;
        end_pending <= 1'b0;
        stat_packet <= 1'b0;
        stat_packet_short <= 1'b0;
        stat_heartbeat <= 1'b0;
        stat_end_of_session <= 1'b0;
        stat_session <= 1'b0;
        stat_dup_packet <= 1'b0;
        stat_dup_messages <= 16'd0;
    end
end

endmodule
