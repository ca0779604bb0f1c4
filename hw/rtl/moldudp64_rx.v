// MoldUDP64 receive: session, sequence tracking, heartbeats, duplicates, gaps.
//
// s_axis carries one UDP payload per packet; the kept lanes of each beat are
// one contiguous run (the first beat may start at any lane). The 20-byte
// MoldUDP64 header (session 10, sequence 8, count 2) is read wherever it
// falls and nulled out of tkeep, so m_axis carries the message blocks only.
// m_mold_seq (sequence of the first block) is valid with a packet's first
// beat on m_axis; m_mold_skip (leading blocks already seen, to be dropped
// downstream) and m_mold_drop (the whole packet was seen: drop it) are valid
// from the cycle after that beat is taken until the next packet's first beat
// is taken. The sequence decision is made a cycle after the beat that
// completes the header, from the registered header (its 64-bit subtraction
// is then the whole path), and the beat goes on meanwhile: it cannot end a
// message (a block is 21 bytes or more, the beat holds at most 15 after the
// header), so the consumer has the decision before any message of the packet
// can leave, and the 4-cycle latency is kept.
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
reg [COUNT_WIDTH-1:0] first_lane;
integer i;
always @* begin
    keep_count = 0;
    first_lane = 0;
    for (i = KEEP_WIDTH-1; i >= 0; i = i - 1) begin
        keep_count = keep_count + s_axis_tkeep[i];
        if (s_axis_tkeep[i])
            first_lane = i;
    end
end

// Header bytes seen so far merged with the incoming beat; payload byte j of
// this beat sits at lane first_lane + (j - pkt_ptr).
reg [HDR_BYTES*8-1:0] hv;
reg [KEEP_WIDTH-1:0]  header_lanes;
integer j, lane;
always @* begin
    hv = hdr_reg;
    for (j = 0; j < HDR_BYTES; j = j + 1) begin
        lane = first_lane + j - pkt_ptr;
        if (j >= pkt_ptr && j < pkt_ptr + keep_count)
            hv[j*8 +: 8] = s_axis_tdata[lane*8 +: 8];
    end
    for (i = 0; i < KEEP_WIDTH; i = i + 1)
        header_lanes[i] = i >= first_lane && i - first_lane + pkt_ptr < HDR_BYTES;
end

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
wire [15:0] count_now       = be_bytes(hv, 18, 2);
wire        header_done_now = pkt_ptr < HDR_BYTES && pkt_ptr + keep_count >= HDR_BYTES;
wire        header_ignored  = s_axis_tlast && s_axis_tuser;
wire        header_accepted = header_done_now && !header_ignored;
wire        forward_now     = header_accepted && !(count_now == 16'd0 || count_now == 16'hFFFF);

// The cycle after (verdict_due), from the registered header: sequence
// relations from one subtraction against the expected sequence; a new
// session takes the packet's own sequence, so nothing is ahead or seen.
reg         verdict_due;
wire [79:0] pkt_session = {be_bytes(hdr_reg, 0, 2), be_bytes(hdr_reg, 2, 8)};
wire [63:0] pkt_seq     = be_bytes(hdr_reg, 10, 8);
wire [15:0] pkt_count   = be_bytes(hdr_reg, 18, 2);
wire        new_session = !have_session || pkt_session != session;
wire [64:0] behind      = {1'b0, expected_seq} - {1'b0, pkt_seq};  // bit 64: packet ahead
wire        seq_ahead   = behind[64];
wire        is_control  = pkt_count == 16'd0 || pkt_count == 16'hFFFF;
wire        ahead       = !new_session && seq_ahead;
wire        all_seen    = !new_session && !is_control && !seq_ahead
                          && (behind[63:16] != 0 || behind[15:0] >= pkt_count);
wire        overlaps    = !new_session && !is_control && !all_seen && !seq_ahead && behind[15:0] != 0;

// The wide sums (next expected sequence, gap length) are made in the cycle
// after the decision: the next packet's header is complete two beats after
// this one's at the earliest (it is 20 bytes, a beat at most 16), and decided
// a cycle later still.
reg         end_pending;
reg  [63:0] end_seq;
reg  [15:0] end_count;
reg         gap_pending;
reg  [63:0] gap_seq;

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
        gap_count <= gap_seq - gap_first_seq;
    end_pending <= 1'b0;
    if (end_pending)
        expected_seq <= end_seq + end_count;

    if (m_axis_tvalid && m_axis_tready)
        m_axis_tvalid <= 1'b0;

    verdict_due <= 1'b0;
    if (verdict_due) begin
        stat_packet <= 1'b1;
        stat_session <= new_session;
        have_session <= 1'b1;
        session <= pkt_session;
        gap_pending <= ahead;
        if (ahead) begin
            gap_first_seq <= expected_seq;
            gap_seq <= pkt_seq;
        end
        if (is_control) begin
            stat_heartbeat <= pkt_count == 16'd0;
            stat_end_of_session <= pkt_count == 16'hFFFF;
            if (new_session || ahead)
                expected_seq <= pkt_seq;
        end else if (all_seen) begin
            stat_dup_packet <= 1'b1;
            stat_dup_messages <= pkt_count;
            m_mold_skip <= 16'd0;
            m_mold_drop <= 1'b1;
        end else begin
            stat_dup_messages <= overlaps ? behind[15:0] : 16'd0;
            end_pending <= 1'b1;
            end_seq <= pkt_seq;
            end_count <= pkt_count;
            m_mold_skip <= overlaps ? behind[15:0] : 16'd0;
            m_mold_drop <= 1'b0;
        end
    end

    if (s_fire) begin
        hdr_reg <= hv;
        pkt_ptr <= pkt_ptr + keep_count >= HDR_BYTES ? HDR_BYTES : pkt_ptr + keep_count;
        verdict_due <= header_accepted;
        if (forward_now)
            m_mold_seq <= be_bytes(hv, 10, 8);

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
            stat_packet_short <= pkt_ptr + keep_count < HDR_BYTES && !s_axis_tuser;
            pkt_ptr <= 0;
            forwarding <= 1'b0;
        end
    end

    status_expected_seq <= expected_seq;

    if (rst) begin
        pkt_ptr <= 0;
        forwarding <= 1'b0;
        verdict_due <= 1'b0;
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
