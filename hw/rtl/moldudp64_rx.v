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
// any message of the packet until the decision is there. A beat passes two
// registers, input and output, and waits in a skid register when it finds the
// output held: the input register lets the control-packet test select per-lane
// compare results registered with the beat, and the skid register keeps
// m_axis_tready off the enables of the header state. A beat offered while the
// input register cannot take it waits in an entry register ahead of it, so
// s_axis_tready is a register and the sender's enables see no logic of this
// stage.
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
    output wire [63:0]           m_mold_seq,
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
    output reg  [15:0]           stat_dup_messages  // a cycle after the packet's other strobes
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
// Beats after a packet's first that can hold header bytes: the header's last
// byte is at most KEEP_WIDTH-1 + 19 bytes past the first beat's lane 0.
localparam HDR_BEATS = (HDR_BYTES - 1 + KEEP_WIDTH - 1) / KEEP_WIDTH;

reg  [HDR_BYTES*8-1:0] hdr_reg;
reg                    forwarding;  // header accepted, blocks go on
reg                    have_session;
reg  [79:0]            session;
// ~(the expected sequence), so the adders below need no inverter in front;
// status_expected_seq is the expected sequence a cycle behind it
reg  [63:0]            expected_not;

reg  decide_control, decide_data;  // the decision cycle (decide_due below), for a control packet and for another
reg  at_start;                     // the next beat is a packet's first

wire out_free = !m_axis_tvalid || m_axis_tready;
reg                  skid_valid;
reg [DATA_WIDTH-1:0] skid_data;
reg [KEEP_WIDTH-1:0] skid_keep;
reg                  skid_last, skid_user;
reg                  skid_leaves;  // the beat in it leaves on m_axis (beat_leaves)

// Input register: the beat is taken as it comes, with each lane's byte pair
// (lanes k-1, k) compared to 0000 and FFFF, so the control-packet test in the
// beat that completes the header selects registered results.
reg                  in_valid;
reg [DATA_WIDTH-1:0] in_data;
reg [KEEP_WIDTH-1:0] in_keep;
reg                  in_last, in_user;
reg [KEEP_WIDTH-1:0] in_pair_control;      // [k], k > 0: lanes k-1, k hold 0000 or FFFF
reg                  in_low_zero, in_low_ones;  // lane 0 holds 00, FF
reg                  in_high_zero, in_high_ones;  // the top lane holds 00, FF
reg                  last_high_zero, last_high_ones;  // ... of the beat taken before
// No beat is taken in a control packet's decision cycle (decide_control below):
// its move of the expected sequence lands a cycle later, and the next header's
// verdict must see it. A packet's first beat is taken once the output register
// is empty: the last packet's sequence and decision stay until its beats have
// left.
wire in_take = !skid_valid && !decide_control && !(at_start && m_axis_tvalid);
wire in_free = !in_valid || in_take;
wire in_fire = in_valid && in_take;

// Entry register: holds the beat offered while the input register is not free.
reg                  entry_valid;
reg [DATA_WIDTH-1:0] entry_data;
reg [KEEP_WIDTH-1:0] entry_keep;
reg                  entry_last, entry_user;
assign s_axis_tready = !entry_valid;
wire                  offer_valid = entry_valid || s_axis_tvalid;
wire [DATA_WIDTH-1:0] offer_data = entry_valid ? entry_data : s_axis_tdata;

integer i;
always @(posedge clk) begin
    if (in_free) begin
        in_valid <= offer_valid;
        in_data <= offer_data;
        in_keep <= entry_valid ? entry_keep : s_axis_tkeep;
        in_last <= entry_valid ? entry_last : s_axis_tlast;
        in_user <= entry_valid ? entry_user : s_axis_tuser;
        in_low_zero <= offer_data[7:0] == 8'h00;
        in_low_ones <= offer_data[7:0] == 8'hFF;
        in_high_zero <= offer_data[DATA_WIDTH-8 +: 8] == 8'h00;
        in_high_ones <= offer_data[DATA_WIDTH-8 +: 8] == 8'hFF;
        in_pair_control[0] <= 1'b0;
        for (i = 1; i < KEEP_WIDTH; i = i + 1)
            in_pair_control[i] <= offer_data[(i-1)*8 +: 16] == 16'h0000
                               || offer_data[(i-1)*8 +: 16] == 16'hFFFF;
    end
    entry_valid <= !in_free && offer_valid;
    if (!entry_valid) begin
        entry_data <= s_axis_tdata;
        entry_keep <= s_axis_tkeep;
        entry_last <= s_axis_tlast;
        entry_user <= s_axis_tuser;
    end
    if (rst) begin
        in_valid <= 1'b0;
        entry_valid <= 1'b0;
    end
end

// Where the header lies. Only a packet's first beat may start past lane 0
// (at lane F; its kept lanes run to the top), and it holds header bytes only
// (a beat is at most 16 bytes): it is kept as it came, and header byte j is
// at byte j + F counted from its lane 0, so in beat (j + F) / KEEP_WIDTH at
// lane (j + F) % KEEP_WIDTH. F is held one-hot and as a thermometer, the beat
// one-hot, and for the next beat every header byte's source lane is a table
// of them registered a cycle early: the merge below is an AND-OR of
// registered one-hot selects, and nothing waits for the first beat's lane.
reg  [HDR_BEATS:1]     hdr_beat;     // one-hot: the next beat is the packet's beat b (none past the header)
reg  [KEEP_WIDTH-1:0]  start_lane;   // one-hot: F
reg  [KEEP_WIDTH-1:0]  start_from;   // [f]: F >= f
reg  [DATA_WIDTH-1:0]  first_beat;   // the packet's first beat
reg                    header_seen;  // the header completed in an earlier beat of the packet
// registered for the next beat:
reg  [HDR_BYTES*KEEP_WIDTH-1:0] take_lane;   // [j*KEEP_WIDTH + k]: header byte j is at its lane k
reg  [HDR_BYTES*KEEP_WIDTH-1:0] take_first;  // [j*KEEP_WIDTH + k]: ... at first_beat's lane k
reg  [HDR_BYTES-1:0]   take;         // header byte j is taken with it
reg  [KEEP_WIDTH-1:0]  header_lanes; // its lanes that hold header bytes
wire [KEEP_WIDTH-1:0]  header_end = take_lane[(HDR_BYTES-1)*KEEP_WIDTH +: KEEP_WIDTH];  // byte 19's lane

// F of the beat at the input, were it a first beat
wire [KEEP_WIDTH-1:0] beat_start_lane = in_keep & ~{in_keep[KEEP_WIDTH-2:0], 1'b0};
wire [KEEP_WIDTH-1:0] beat_start_from = {~in_keep[KEEP_WIDTH-2:0], 1'b1};
// the state after the beat at the input
wire [HDR_BEATS:1]    beat_next = in_last ? {HDR_BEATS{1'b0}}
                                : at_start ? {{(HDR_BEATS-1){1'b0}}, 1'b1} : hdr_beat << 1;
wire [KEEP_WIDTH-1:0] lane_next = at_start ? beat_start_lane : start_lane;
wire [KEEP_WIDTH-1:0] from_next = at_start ? beat_start_from : start_from;

// F >= f, for any f (no F is below 0 or reaches KEEP_WIDTH)
function from_at;
    input [KEEP_WIDTH-1:0] from;
    input integer f;
    begin
        from_at = f <= 0 ? 1'b1 : f >= KEEP_WIDTH ? 1'b0 : from[f];
    end
endfunction

reg [HDR_BYTES*KEEP_WIDTH-1:0] take_lane_next, take_first_next;
reg [HDR_BYTES-1:0]            take_next;
reg [KEEP_WIDTH-1:0]           header_lanes_next;
reg [HDR_BYTES*8-1:0]          hv;  // the header bytes the beat at the input brings
integer j, k, b;
always @* begin
    for (j = 0; j < HDR_BYTES; j = j + 1) begin
        take_next[j] = 1'b0;
        for (k = 0; k < KEEP_WIDTH; k = k + 1) begin
            take_lane_next[j*KEEP_WIDTH + k] = 1'b0;
            take_first_next[j*KEEP_WIDTH + k] = 1'b0;
            for (b = 1; b <= HDR_BEATS; b = b + 1)
                if (b*KEEP_WIDTH + k - j >= 0 && b*KEEP_WIDTH + k - j < KEEP_WIDTH)
                    take_lane_next[j*KEEP_WIDTH + k] = take_lane_next[j*KEEP_WIDTH + k]
                        || (beat_next[b] && lane_next[b*KEEP_WIDTH + k - j]);
        end
        for (k = j; k < KEEP_WIDTH; k = k + 1)
            take_first_next[j*KEEP_WIDTH + k] = !in_last && at_start && beat_start_lane[k - j];
        // beat b takes byte j when j + F is in it (beat 1: or in the first beat)
        for (b = 1; b <= HDR_BEATS; b = b + 1)
            take_next[j] = take_next[j] || (beat_next[b]
                && (b == 1 || from_at(from_next, b*KEEP_WIDTH - j))
                && !from_at(from_next, (b+1)*KEEP_WIDTH - j));
    end
    // lane k of beat b holds a header byte when b*KEEP_WIDTH + k < 20 + F; a first beat only header bytes
    for (k = 0; k < KEEP_WIDTH; k = k + 1) begin
        header_lanes_next[k] = in_last;
        for (b = 1; b <= HDR_BEATS; b = b + 1)
            header_lanes_next[k] = header_lanes_next[k]
                || (beat_next[b] && from_at(from_next, b*KEEP_WIDTH + k - (HDR_BYTES - 1)));
    end
    for (j = 0; j < HDR_BYTES; j = j + 1) begin
        hv[j*8 +: 8] = 8'd0;
        for (k = 0; k < KEEP_WIDTH; k = k + 1)
            hv[j*8 +: 8] = hv[j*8 +: 8] | ({8{take_lane[j*KEEP_WIDTH + k]}} & in_data[k*8 +: 8])
                                        | ({8{take_first[j*KEEP_WIDTH + k]}} & first_beat[k*8 +: 8]);
    end
end

function [63:0] be_bytes;
    input [HDR_BYTES*8-1:0] h;
    input integer offset;
    input integer count;
    integer n;
    begin
        be_bytes = 0;
        for (n = 0; n < count; n = n + 1)
            be_bytes = {be_bytes[55:0], h[(offset+n)*8 +: 8]};
    end
endfunction

// In the beat that completes the header: forward unless it is a control packet.
// The header completes in this beat when its last byte's lane is kept: a
// keep bit selected by the registered one-hot lane, no count or adder in
// front of the decision.
wire        header_done_now = (in_keep & header_end) != 0;
wire        header_ignored  = in_last && in_user;
wire        header_accepted = header_done_now && !header_ignored;
// A control packet (count 0 or 0xFFFF) is not forwarded. The count's last
// byte (header byte 19) is at lane header_end of the beat that completes the
// header, its first byte one lane below or, at lane 0, in the top lane of the
// beat before: the registered one-hot lane selects that lane's registered pair
// result.
wire        control_now     = (in_pair_control & header_end) != 0
                              || (header_end[0] && ((last_high_zero && in_low_zero)
                                                    || (last_high_ones && in_low_ones)));
wire        forward_now     = header_accepted && !control_now;
// the beat in the input register leaves on m_axis when taken: forwarded, and
// a block byte or the packet's end in it
wire [KEEP_WIDTH-1:0] beat_keep = in_keep & ~header_lanes;
wire        beat_leaves     = (forward_now || forwarding) && (beat_keep != 0 || in_last);

// The sequence decision takes two cycles after the beat that completes the
// header, and no 64-bit carry chain. In the first (verdict_due) each 16-bit
// chunk of seq + ~expected (~expected is kept in a register, so no inverter
// sits in front of the adders) and of seq + count is summed with no carry in
// and with one; seq > expected and seq < expected are the carry outs of seq +
// ~expected and seq + ~expected + 1 (= seq - expected), looked ahead over the
// chunk carries right behind the adders. The chunk carry outs of seq + count
// + ~expected are registered as they are (carry-save, then one add, which
// already has a LUT in front: the whole packet is seen when that sum stays
// below 2^64, i.e. seq + count <= expected). The session is
// compared in quarters and the count with 0 and 0xFFFF. In the second
// (decide_due) the decision is a flat AND-OR of these registered flags. A new
// session takes the packet's own sequence, so nothing is ahead or seen.
localparam CHUNKS = 4;
reg         verdict_due, decide_due;
reg         decided_data;                 // decide_data a cycle ago: count the skipped or dropped blocks
wire [63:0] pkt_session_head = be_bytes(hdr_reg, 0, 2);
wire [63:0] pkt_count_64     = be_bytes(hdr_reg, 18, 2);
wire [79:0] pkt_session      = {pkt_session_head[15:0], be_bytes(hdr_reg, 2, 8)};
wire [63:0] pkt_seq          = be_bytes(hdr_reg, 10, 8);
// The header register holds the sequence from the beat that completes the
// header, where the packet's first beat leaves at the earliest, until the
// next packet's second beat, taken after this one's last has left.
assign m_mold_seq = pkt_seq;
wire [15:0] pkt_count        = pkt_count_64[15:0];
wire        pkt_control      = pkt_count == 16'd0 || pkt_count == 16'hFFFF;
// seq + count + ~expected in carry-save form: sum, and carries one bit up
wire [63:0] seen_sum   = pkt_seq ^ pkt_count_64 ^ expected_not;
wire [64:0] seen_carry = {(pkt_seq & pkt_count_64) | ((pkt_seq | pkt_count_64) & expected_not), 1'b0};

// A 64-bit carry out from the chunks' carry outs with no carry in (c0) and
// with one (c1), looked ahead over chunk pairs: {high pair propagates, high
// pair generates, low pair generates} ...
function [2:0] carry_pairs;
    input [CHUNKS-1:0] c0, c1;
    begin
        carry_pairs = {c1[3] & c1[2], c0[3] | (c1[3] & c0[2]), c0[1] | (c1[1] & c0[0])};
    end
endfunction
// ... and the carry out of all four
function carry_out;
    input [2:0] pairs;
    begin
        carry_out = pairs[1] | (pairs[2] & pairs[0]);
    end
endfunction

// chunk carry outs, with no carry in and with one
wire [CHUNKS-1:0] ahead_0, ahead_1;    // seq + ~expected: seq > expected (with the carry in, >=)
wire [CHUNKS-1:0] seen_0, seen_1;      // seen_sum + seen_carry: not all seen
// registered in the verdict cycle:
// the packet's session is the current one, in quarters of 20 bits (a compare
// 3 LUTs deep; the decision ANDs the four in one LUT); [0] also says a
// current one exists
reg  [3:0]  session_same;
reg         is_control, is_heartbeat, is_end_of_session;
reg  [63:0] seq;
reg  [15:0] count;
// carry_pairs of the chunk carries of seq + ~expected (seq > expected) and of
// seq + ~expected + 1 (no carry: seq < expected)
reg  [2:0]  ahead_pairs, not_behind_pairs;
reg  [CHUNKS-1:0] seen_0_reg, seen_1_reg;  // registered as they are: a LUT sits in front of their adders
reg         seen_top;      // seen_carry[64]
// per chunk c, bits [17c+16:17c]: the 16-bit sum and its carry out, *_0 with
// no carry in, *_1 with one
reg  [CHUNKS*17-1:0] diff_0, diff_1;      // seq + ~expected: seq - expected - 1 and seq - expected
reg  [CHUNKS*17-1:0] next_0, next_1;      // seq + count
// expected - seq, when not ahead and not all seen: its low chunk, ~(seq + ~expected)
wire [15:0] behind = ~diff_0[15:0];

genvar g;
generate
    for (g = 0; g < CHUNKS; g = g + 1) begin : g_chunk
        wire [15:0] not_e = expected_not[g*16 +: 16];
        wire [15:0] q = pkt_seq[g*16 +: 16];
        wire [16:0] diff_plus_0 = {1'b0, q} + {1'b0, not_e};
        wire [17:0] diff_plus_1 = {1'b0, q, 1'b1} + {1'b0, not_e, 1'b1};
        wire [16:0] seen_plus_0 = {1'b0, seen_sum[g*16 +: 16]} + {1'b0, seen_carry[g*16 +: 16]};
        wire [17:0] seen_plus_1 = {1'b0, seen_sum[g*16 +: 16], 1'b1} + {1'b0, seen_carry[g*16 +: 16], 1'b1};
        assign ahead_0[g] = diff_plus_0[16];
        assign ahead_1[g] = diff_plus_1[17];
        assign seen_0[g] = seen_plus_0[16];
        assign seen_1[g] = seen_plus_1[17];
        always @(posedge clk)
            if (verdict_due) begin
                diff_0[g*17 +: 17] <= diff_plus_0;
                diff_1[g*17 +: 17] <= diff_plus_1[17:1];
                next_0[g*17 +: 17] <= {1'b0, q} + (g == 0 ? {1'b0, pkt_count} : 17'd0);
                next_1[g*17 +: 17] <= {1'b0, q} + 17'd1;
            end
    end
endgenerate

// The decision, from registered flags.
wire same_session = session_same == 4'hF;
wire new_session  = !same_session;
wire seq_ahead    = carry_out(ahead_pairs);
wire ahead        = same_session && seq_ahead;
wire seen_over    = seen_top || carry_out(carry_pairs(seen_0_reg, seen_1_reg));
wire all_seen     = same_session && !is_control && !seen_over;
wire overlaps     = same_session && !is_control && seen_over && !carry_out(not_behind_pairs);

// The next expected sequence and the gap length are taken the cycle after
// the decision, from the chunk sums of verdict_due and each chunk's carry
// in, registered meanwhile (seq - expected is seq + ~expected with a carry
// into chunk 0). The expected sequence is written three cycles after the
// beat that completes the header, and the next header's verdict reads it
// the cycle after at the earliest: that header is 20 bytes, a beat at most
// 16, so it completes two beats later or more, and where this header ends
// its packet, the next packet's first beat waits a cycle for the output
// register to empty (a data packet's last beat) or for the decision cycle
// to pass (a control packet's). tb_moldudp64_rx's back-to-back test holds
// that case, which arises at 128 bit.
reg  [CHUNKS-1:0] gap_in, next_in;            // registered
reg  [CHUNKS-1:0] gap_in_now, next_in_now;    // rippled from the registered chunk sums
reg  [63:0]       gap_length, next_seq;
integer c;
always @* begin
    gap_in_now[0] = 1'b1;
    next_in_now[0] = 1'b0;
    for (c = 1; c < CHUNKS; c = c + 1) begin
        gap_in_now[c] = gap_in_now[c-1] ? diff_1[c*17 - 1] : diff_0[c*17 - 1];
        next_in_now[c] = next_in_now[c-1] ? next_1[c*17 - 1] : next_0[c*17 - 1];
    end
    for (c = 0; c < CHUNKS; c = c + 1) begin
        gap_length[c*16 +: 16] = gap_in[c] ? diff_1[c*17 +: 16] : diff_0[c*17 +: 16];
        next_seq[c*16 +: 16] = next_in[c] ? next_1[c*17 +: 16] : next_0[c*17 +: 16];
    end
end
reg         end_pending;   // a data packet's expected sequence is next_seq: taken this cycle
reg         move_pending;  // a control packet's expected sequence is its own: taken this cycle
integer     chunk;
reg         gap_pending;

always @(posedge clk) begin
    gap_in <= gap_in_now;
    next_in <= next_in_now;

    stat_packet <= 1'b0;
    stat_packet_short <= 1'b0;
    stat_heartbeat <= 1'b0;
    stat_end_of_session <= 1'b0;
    stat_session <= 1'b0;
    stat_dup_packet <= 1'b0;
    stat_dup_messages <= 16'd0;
    gap_valid <= gap_pending;
    gap_pending <= 1'b0;
    // status_expected_seq is still the one before this decision
    if (gap_pending) begin
        gap_first_seq <= status_expected_seq;
        gap_count <= gap_length;
    end
    end_pending <= 1'b0;

    verdict_due <= 1'b0;
    decide_due <= verdict_due;
    decide_control <= verdict_due && pkt_control;
    decide_data <= verdict_due && !pkt_control;
    decided_data <= decide_data;
    if (decided_data)
        stat_dup_messages <= m_mold_drop ? count : m_mold_skip;
    if (verdict_due) begin
        for (chunk = 0; chunk < 4; chunk = chunk + 1)
            session_same[chunk] <= pkt_session[chunk*20 +: 20] == session[chunk*20 +: 20]
                                   && (chunk > 0 || have_session);
        have_session <= 1'b1;
        session <= pkt_session;
        seq <= pkt_seq;
        count <= pkt_count;
        is_control <= pkt_control;
        is_heartbeat <= pkt_count == 16'd0;
        is_end_of_session <= pkt_count == 16'hFFFF;
        ahead_pairs <= carry_pairs(ahead_0, ahead_1);
        // with a carry into chunk 0, its carry out is the one with a carry in
        not_behind_pairs <= carry_pairs({ahead_0[CHUNKS-1:1], ahead_1[0]}, ahead_1);
        seen_0_reg <= seen_0;
        seen_1_reg <= seen_1;
        seen_top <= seen_carry[64];
    end

    // a control packet moves the expected sequence to its own when new or ahead
    // (move_pending); a duplicate is dropped whole; any other packet has its
    // seen blocks skipped and moves the expected sequence on (end_pending)
    if (decide_due) begin
        stat_packet <= 1'b1;
        stat_session <= new_session;
        gap_pending <= ahead;
        stat_heartbeat <= is_heartbeat;
        stat_end_of_session <= is_end_of_session;
        stat_dup_packet <= all_seen;
        end_pending <= !is_control && !all_seen;
    end
    // a registered enable for the 64 bits; never both pending (one packet's)
    move_pending <= decide_control && (new_session || seq_ahead);
    if (end_pending || move_pending)
        expected_not <= end_pending ? ~next_seq : ~seq;
    if (decide_data) begin
        m_mold_skip <= {16{overlaps}} & behind;
        m_mold_drop <= all_seen;
    end

    // The header bytes and the first beat are taken from a beat in the input
    // register whether or not it leaves this cycle: a held beat gives the same
    // bytes again, and the enables wait on no stall.
    if (in_valid) begin
        for (j = 0; j < HDR_BYTES; j = j + 1)
            if (take[j])
                hdr_reg[j*8 +: 8] <= hv[j*8 +: 8];
        if (at_start)
            first_beat <= in_data;
    end
    if (in_fire) begin
        last_high_zero <= in_high_zero;
        last_high_ones <= in_high_ones;
        if (at_start) begin
            start_lane <= beat_start_lane;
            start_from <= beat_start_from;
        end
        at_start <= in_last;
        hdr_beat <= beat_next;
        take_lane <= take_lane_next;
        take_first <= take_first_next;
        take <= take_next;
        header_lanes <= header_lanes_next;
        header_seen <= !in_last && (header_seen || header_done_now);
        verdict_due <= header_accepted;

        forwarding <= !in_last && (forward_now || forwarding);
        stat_packet_short <= in_last && !header_seen && !header_done_now && !in_user;
    end

    // The output register takes the skid register's beat, else the input
    // register's, whether or not it leaves (m_axis_tvalid says); a beat taken
    // while the output is held waits in the skid register, which takes the
    // input register's beat whenever it is empty (skid_valid says whether it
    // holds one, skid_leaves whether that one leaves: the verdict stays off
    // skid_valid and so off in_fire).
    if (out_free) begin
        m_axis_tvalid <= skid_valid ? skid_leaves : in_fire && beat_leaves;
        m_axis_tdata <= skid_valid ? skid_data : in_data;
        m_axis_tkeep <= skid_valid ? skid_keep : beat_keep;
        m_axis_tlast <= skid_valid ? skid_last : in_last;
        m_axis_tuser <= skid_valid ? skid_user : in_user;
    end
    skid_valid <= !out_free && (skid_valid || in_fire);
    if (!skid_valid) begin
        skid_leaves <= beat_leaves;
        skid_data <= in_data;
        skid_keep <= beat_keep;
        skid_last <= in_last;
        skid_user <= in_user;
    end

    status_expected_seq <= ~expected_not;

    if (rst) begin
        at_start <= 1'b1;
        hdr_beat <= {HDR_BEATS{1'b0}};
        take_lane <= {HDR_BYTES*KEEP_WIDTH{1'b0}};
        take_first <= {HDR_BYTES*KEEP_WIDTH{1'b0}};
        take <= {HDR_BYTES{1'b0}};
        header_lanes <= {KEEP_WIDTH{1'b1}};
        header_seen <= 1'b0;
        forwarding <= 1'b0;
        verdict_due <= 1'b0;
        decide_due <= 1'b0;
        decide_control <= 1'b0;
        decide_data <= 1'b0;
        decided_data <= 1'b0;
        have_session <= 1'b0;
        expected_not <= {64{1'b1}};
        m_axis_tvalid <= 1'b0;
        skid_valid <= 1'b0;
        gap_valid <= 1'b0;
        gap_pending <= 1'b0;
        end_pending <= 1'b0;
        move_pending <= 1'b0;
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
