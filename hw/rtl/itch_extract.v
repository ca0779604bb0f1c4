// ITCH message extraction from MoldUDP64 message blocks.
//
// s_axis carries the message blocks of one packet (2-byte big-endian length,
// then the message): the kept lanes of a packet's first beat run from any
// lane to the top, the middle beats are full and the last ends at any lane
// (as moldudp64_rx sends them). Each message leaves on m_msg_* as a
// single-beat AXI-Stream packet (type byte at m_msg_tdata[7:0], byte k at
// [8k+7:8k], bytes past the message's length undefined) with its MoldUDP64
// sequence number in m_msg_tuser.
//
// Three stages, none with a long path:
//   align:    the input beat (behind a three-beat skid buffer, so s_axis_tready
//             is a register) is looked at in every lane as if a block's type
//             byte were there: the length bytes before it (from this beat or
//             the previous one) are checked against the table length of the
//             type (book_event.vh, generated from itch.MESSAGE_LENGTHS; looked
//             up for every lane as the beat comes in and kept with it in the
//             skid buffer, so the type lookup is off the align path), and
//             the position of that block's last byte and of the next block's
//             start and type byte, in beats and lanes, are read from a table of
//             the length byte (looked up the same way, as if the lane after it
//             held the type byte, so no table of the length byte is on the
//             align path either).
//   complete: the only loop. The position of the next type byte selects its
//             lane's precomputed entry, which becomes the next position: a
//             mux and a decrement, no adder. Each beat is stored raw into the
//             word buffer of the block it carries (two buffers, alternating
//             per block), so no byte is shifted on the way in.
//   emit:     in the beat holding a block's last byte, the block's buffer
//             (with that beat in place of its last word) is rotated by the
//             block's start lane into the output register.
// A message is on m_msg_* three clock edges after the edge that takes the beat
// holding its last byte (align, complete, emit). At 128 bits one beat can hold
// two type bytes, or a block's type byte and its last byte (14-byte blocks
// only): such a beat is looked at for two cycles while the skid buffer takes
// the input, so the packet's later messages leave a cycle later.
//
// s_mold_seq is read with a packet's first beat, s_mold_skip and s_mold_drop
// two cycles after (moldudp64_rx decides two cycles after the header); no
// block of the packet leaves before. The first s_mold_skip blocks of a packet
// are already seen: they are consumed without output. A packet with
// s_mold_drop (a duplicate) has all its blocks consumed that way and counts no
// error. A length that is not the table length of the type is counted and the
// rest of the packet skipped; a packet ending inside a block is counted as
// truncated (both two cycles after the beat that shows it). A last beat with
// tuser set (frame fault seen by the filter) is not looked at and the
// incomplete tail is discarded without counting. A packet's first beat enters
// the complete stage only once the previous packet has left it, so a bad
// packet never misaligns the next one; the next packet's first beat is taken
// once this one's first beat is there and its verdict is known.

module itch_extract #(
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
    input  wire [63:0]           s_mold_seq,
    input  wire [15:0]           s_mold_skip,
    input  wire                  s_mold_drop,

    output wire [50*8-1:0]       m_msg_tdata,
    output wire [63:0]           m_msg_tuser,
    output wire                  m_msg_tvalid,
    input  wire                  m_msg_tready,
    output wire                  m_msg_tlast,

    output reg                   stat_length_error,
    output reg                   stat_truncated
);

`include "book_event.vh"

initial begin
    if (DATA_WIDTH != 32 && DATA_WIDTH != 64 && DATA_WIDTH != 128) begin
        $error("itch_extract: DATA_WIDTH must be 32, 64 or 128");
        $finish;
    end
    if (KEEP_WIDTH*8 != DATA_WIDTH) begin
        $error("itch_extract: KEEP_WIDTH must be DATA_WIDTH/8");
        $finish;
    end
    if (ITCH_MAX_MESSAGE_LENGTH != 50) begin
        $error("itch_extract: m_msg_tdata is sized for 50-byte messages");
        $finish;
    end
end

localparam BLOCK_MAX = ITCH_MAX_MESSAGE_LENGTH + 2;
localparam LANE_W = $clog2(KEEP_WIDTH);
// Beats from a type byte's beat to the next type byte's, at most.
localparam AHEAD_W = $clog2((KEEP_WIDTH - 1 + BLOCK_MAX) / KEEP_WIDTH + 1);
// Beats a block can touch: start lane up to KEEP_WIDTH-1, then BLOCK_MAX bytes.
localparam WORDS = (KEEP_WIDTH - 1 + BLOCK_MAX + KEEP_WIDTH - 1) / KEEP_WIDTH;
localparam [LANE_W:0]  TYPE_OFFSET = 2;  // a block's type byte follows its 2 length bytes

// ---------------------------------------------------------------- input skid

// Skid slots in front of the align register: s_axis_tready is a register,
// and a beat looked at twice (128 bits) costs latency until the input idles
// (between packets), not an input cycle.
localparam SKID = 3;
localparam BEAT_W = DATA_WIDTH + KEEP_WIDTH + 3;  // {first, user, last, keep, data}

// Positions of a block, looked up from its length byte as the beat enters
// the align register: whether the block ends in its type byte's beat (hold:
// look again), then the positions of the block's last byte, the next block's
// start and the next type byte, each as beats ahead (counted from the next
// beat, or from the type byte's beat on hold), whether that is 0, and the lane.
localparam POS_W = 1 + AHEAD_W + LANE_W;
localparam PLACE_W = 1 + 3*POS_W;
// The shortest table length: a shorter length is bad whatever the type, so
// the table has no positions for it (and at 32 and 64 bits no block then
// ends in its type byte's beat: nothing holds the complete stage).
function integer shortest_message;
    input integer unused;
    integer t;
    begin
        shortest_message = ITCH_MAX_MESSAGE_LENGTH;
        for (t = 0; t < 256; t = t + 1)
            if (itch_message_length(t[7:0]) != 8'd0
                && {24'd0, itch_message_length(t[7:0])} < shortest_message)
                shortest_message = {24'd0, itch_message_length(t[7:0])};
    end
endfunction
localparam SHORTEST_MESSAGE = shortest_message(0);
function [PLACE_W-1:0] block_place;
    input integer q;             // lane of the block's type byte
    input [7:0]   length_low;
    integer       length;
    begin
        // A constant per length (any shorter or longer length is bad): a table
        // of the length byte, with no adder or compare behind it. The block's last
        // byte is at q + length - 1: in the type byte's beat when below KEEP_WIDTH.
        block_place = {1'b0, position(0), position(0), position(0)};
        for (length = SHORTEST_MESSAGE; length <= ITCH_MAX_MESSAGE_LENGTH; length = length + 1)
            if (length_low == length[7:0])
                block_place = q + length <= KEEP_WIDTH
                    ? {1'b1, position(q + length - 1), position(q + length), position(q + length + 2)}
                    : {1'b0, position(q + length - 1 - KEEP_WIDTH), position(q + length - KEEP_WIDTH),
                       position(q + length + 2 - KEEP_WIDTH)};
    end
endfunction

function [POS_W-1:0] position;
    input integer bytes_ahead;
    begin
        position = {bytes_ahead < KEEP_WIDTH, bytes_ahead[LANE_W +: AHEAD_W], bytes_ahead[LANE_W-1:0]};
    end
endfunction

reg                  in_valid;
reg [DATA_WIDTH-1:0] in_data;
reg [KEEP_WIDTH-1:0] in_keep;
reg                  in_last, in_user, in_first;
reg [DATA_WIDTH-1:0] in_table_length;  // per lane: itch_message_length of its byte
// per lane: block_place of its byte as the low length byte of a block whose
// type byte is the next lane (lane 0 of the next beat for the top lane)
reg [KEEP_WIDTH*PLACE_W-1:0] in_place;
// A skid slot holds the beat and its tables (looked up from the input as it
// is pushed), so a beat from the skid enters the align register through a
// select, no table: {place, table_length, first, user, last, keep, data}.
localparam SLOT_W = BEAT_W + DATA_WIDTH + KEEP_WIDTH*PLACE_W;
localparam TABLE_LENGTH_AT = BEAT_W;
localparam PLACE_AT = BEAT_W + DATA_WIDTH;
reg [SLOT_W-1:0]     skid [0:SKID-1];   // skid[0] is the oldest
reg [SKID-1:0]       skid_fill;       // thermometer: bit k set when more than k slots hold a beat
reg                  in_packet;    // a packet's first beat taken, last not yet
reg                  verdict_wait; // the packet's first beat was taken last cycle
reg                  verdict_due;  // ... two cycles ago: s_mold_skip and s_mold_drop are valid
// The sideband of the newest packet until its first beat is in the complete
// stage and its verdict is known; the next packet's first beat waits for that.
reg                  pend_busy, pend_verdict, pend_entered;
reg [63:0]           pend_seq;
reg [15:0]           pend_skip;
reg                  pend_drop;

reg                  s2_valid;
wire                 s2_advance;
// a packet's first beat enters the complete stage only once it is empty, so
// the previous packet's counters are out before this one's verdict is used
wire                 s1_take = in_valid && (!s2_valid || (s2_advance && !in_first));
wire                 s1_load = !in_valid || s1_take;
wire                 first_in = s1_take && in_first;  // a packet's first beat enters (the stage is empty)

assign s_axis_tready = !skid_fill[SKID-1] && (in_packet || !pend_busy);
wire s_fire = s_axis_tvalid && s_axis_tready;

wire [BEAT_W-1:0]  s_beat = {!in_packet, s_axis_tuser, s_axis_tlast, s_axis_tkeep, s_axis_tdata};
reg  [SLOT_W-1:0]  s_slot;
integer n;
always @* begin
    s_slot[0 +: BEAT_W] = s_beat;
    for (n = 0; n < KEEP_WIDTH; n = n + 1) begin
        s_slot[TABLE_LENGTH_AT + n*8 +: 8] = itch_message_length(s_axis_tdata[n*8 +: 8]);
        s_slot[PLACE_AT + n*PLACE_W +: PLACE_W] = block_place((n + 1) % KEEP_WIDTH, s_axis_tdata[n*8 +: 8]);
    end
end
wire               skid_pop = s1_load && skid_fill[0];
wire               skid_push = s_fire && !(s1_load && !skid_fill[0]);
// the slot a pushed beat goes to: the first free one, after the pop
wire [SKID:0]      fill_after_pop = skid_pop ? {2'b00, skid_fill[SKID-1:1]} : {1'b0, skid_fill};
wire [SKID-1:0]    skid_slot = fill_after_pop[SKID-1:0] ^ {fill_after_pop[SKID-2:0], 1'b1};
wire [SKID-1:0]    skid_fill_next = skid_push && !skid_pop ? {skid_fill[SKID-2:0], 1'b1}
                                  : skid_pop && !skid_push ? {1'b0, skid_fill[SKID-1:1]} : skid_fill;

// The beat s1_load takes: the oldest skid slot, if any, else the input. Each
// lane's select reads its own copy of skid_fill[0] (kept apart, not merged),
// so no one register drives the select of the whole beat and its tables.
wire [KEEP_WIDTH-1:0] lane_from_skid;
genvar lane;
generate
    for (lane = 0; lane < KEEP_WIDTH; lane = lane + 1) begin : skid_select
        reg from_skid;
        (* keep *) always @(posedge clk)
            from_skid <= !rst && skid_fill_next[0];
        assign lane_from_skid[lane] = from_skid;
    end
endgenerate
reg [SLOT_W-1:0] s1_slot;
always @* begin
    s1_slot = skid_fill[0] ? skid[0] : s_slot;
    for (n = 0; n < KEEP_WIDTH; n = n + 1) begin
        s1_slot[n*8 +: 8] = lane_from_skid[n] ? skid[0][n*8 +: 8] : s_slot[n*8 +: 8];
        s1_slot[DATA_WIDTH + n] = lane_from_skid[n] ? skid[0][DATA_WIDTH + n] : s_slot[DATA_WIDTH + n];
        s1_slot[TABLE_LENGTH_AT + n*8 +: 8] = lane_from_skid[n] ? skid[0][TABLE_LENGTH_AT + n*8 +: 8]
                                                                : s_slot[TABLE_LENGTH_AT + n*8 +: 8];
        s1_slot[PLACE_AT + n*PLACE_W +: PLACE_W] = lane_from_skid[n] ? skid[0][PLACE_AT + n*PLACE_W +: PLACE_W]
                                                                     : s_slot[PLACE_AT + n*PLACE_W +: PLACE_W];
    end
end

always @(posedge clk) begin
    if (s1_load) begin
        in_valid <= skid_fill[0] || s_fire;
        {in_first, in_user, in_last, in_keep, in_data} <= s1_slot[0 +: BEAT_W];
        in_table_length <= s1_slot[TABLE_LENGTH_AT +: DATA_WIDTH];
        in_place <= s1_slot[PLACE_AT +: KEEP_WIDTH*PLACE_W];
    end
    for (n = 0; n < SKID; n = n + 1)
        if (skid_push && skid_slot[n])
            skid[n] <= s_slot;
        else if (skid_pop && n < SKID-1)
            skid[n] <= skid[n+1];
    skid_fill <= skid_fill_next;

    if (s_fire)
        in_packet <= !s_axis_tlast;
    verdict_wait <= s_fire && !in_packet;
    verdict_due <= verdict_wait;

    if (s_fire && !in_packet) begin
        pend_busy <= 1'b1;
        pend_verdict <= 1'b0;
        pend_entered <= 1'b0;
        pend_seq <= s_mold_seq;
    end
    if (verdict_due) begin
        pend_verdict <= 1'b1;
        pend_skip <= s_mold_skip;
        pend_drop <= s_mold_drop;
    end
    if (first_in)
        pend_entered <= 1'b1;
    if ((pend_entered || first_in) && (pend_verdict || verdict_due))
        pend_busy <= 1'b0;

    if (rst) begin
        in_valid <= 1'b0;
        skid_fill <= {SKID{1'b0}};
        in_packet <= 1'b0;
        verdict_wait <= 1'b0;
        verdict_due <= 1'b0;
        pend_busy <= 1'b0;
    end
end

// ---------------------------------------------------------------- align

// Entry of lane q, read when the next type byte is there: whether a block's
// type byte there is kept and good, kept and bad (its length is not the
// table length), or good and its block ends in this beat (hold: look again);
// then the block's positions (block_place, looked up from its length byte).
localparam ENTRY_W = 3 + 3*POS_W;
function [ENTRY_W-1:0] lane_entry;
    input         kept;
    input [7:0]   table_length;  // of the type byte at lane q
    input [7:0]   length_high;
    input [7:0]   length_low;
    input [PLACE_W-1:0] place;   // block_place(q, length_low)
    reg           bad;
    begin
        bad = table_length == 8'd0 || length_high != 8'd0 || length_low != table_length;
        lane_entry = {kept && !bad, kept && bad, kept && !bad && place[PLACE_W-1],
                      place[0 +: 3*POS_W]};
    end
endfunction

reg [15:0]                    tail;  // the last two bytes of the beat before in_data
reg [PLACE_W-1:0]             tail_place;  // its top lane's in_place
reg [KEEP_WIDTH*ENTRY_W-1:0]  entries;
reg [LANE_W-1:0]              first_lane;
reg [LANE_W:0]                first_type;  // first_lane + 2
wire [DATA_WIDTH+15:0]        with_tail = {in_data, tail};
wire [(KEEP_WIDTH+1)*PLACE_W-1:0] places = {in_place, tail_place};
integer q;
always @* begin
    for (q = 0; q < KEEP_WIDTH; q = q + 1)
        entries[q*ENTRY_W +: ENTRY_W] = lane_entry(in_keep[q], in_table_length[q*8 +: 8],
                                                   with_tail[q*8 +: 8], with_tail[(q+1)*8 +: 8],
                                                   places[q*PLACE_W +: PLACE_W]);
    first_lane = {LANE_W{1'b0}};
    for (q = KEEP_WIDTH-1; q >= 0; q = q - 1)
        if (in_keep[q])
            first_lane = q[LANE_W-1:0];
    first_type = {1'b0, first_lane} + TYPE_OFFSET;
end

reg [DATA_WIDTH-1:0] s2_data;
reg [KEEP_WIDTH-1:0] s2_keep;
reg                  s2_last, s2_aborted;
reg [ENTRY_W-1:0]    s2_entries [0:KEEP_WIDTH-1];

always @(posedge clk) begin
    if (s1_take) begin
        s2_data <= in_data;
        s2_keep <= in_keep;
        s2_last <= in_last;
        s2_aborted <= in_last && in_user;
        for (q = 0; q < KEEP_WIDTH; q = q + 1)
            s2_entries[q] <= entries[q*ENTRY_W +: ENTRY_W];
        tail <= in_data[DATA_WIDTH-16 +: 16];
        tail_place <= in_place[(KEEP_WIDTH-1)*PLACE_W +: PLACE_W];
    end
    if (s1_take)
        s2_valid <= 1'b1;
    else if (s2_advance)
        s2_valid <= 1'b0;
    if (rst)
        s2_valid <= 1'b0;
end

// ---------------------------------------------------------------- complete

// Positions (beats ahead, lane) of the next type byte, of the start of its
// block, and of the last byte of the block whose type byte was seen; each
// with a flag "in this beat" kept as a register, so no event waits on a compare.
reg [AHEAD_W-1:0] type_ahead, start_ahead, end_ahead;
reg [LANE_W-1:0]  type_lane, start_lane, end_lane;
reg               type_now, start_now, end_now;
reg               start_wait;   // the block whose type byte comes next has not started
reg               block_open;   // a block's type byte was seen, its last byte not yet
reg               skipping;     // length error: the rest of the packet is ignored
reg               start_buf, end_buf;  // buffer of the next block to start, to end
reg [1:0]         buf_active;
reg [WORDS-1:0]   buf_word [0:1];      // one-hot: the word the beat in the complete stage goes to
reg [LANE_W-1:0]  buf_lane [0:1];      // the block's start lane
reg [DATA_WIDTH-1:0] buf_data [0:1][0:WORDS-1];

reg [63:0] seq;          // sequence of the next block to end
reg        seq_low_ones; // seq[31:0] is all ones: seq + 1 carries into seq[63:32]
reg [15:0] skip_left;
reg        skip_zero;    // skip_left == 0
reg        dropping;
reg        out_valid;
reg        length_error_seen, truncated_seen, packet_done_seen;

wire [ENTRY_W-1:0] entry = s2_entries[type_lane];
wire [POS_W-1:0]   entry_end   = entry[2*POS_W +: POS_W];
wire [POS_W-1:0]   entry_start = entry[POS_W +: POS_W];
wire [POS_W-1:0]   entry_type  = entry[0 +: POS_W];
wire               looking = s2_valid && !skipping && !s2_aborted;

wire ev_type  = looking && type_now && entry[ENTRY_W-1];  // a good type byte
wire ev_bad   = looking && type_now && entry[ENTRY_W-2];
wire hold_now = looking && type_now && entry[ENTRY_W-3];
wire ev_start = looking && start_now && s2_keep[start_lane];
// A block's last byte position is reached (end_at) in this beat; it is there
// (ev_end) unless the packet ended before it. The stall looks only at the
// registered position flag and the output: whether the block is emitted
// (skipped, dropped, cut short, the packet skipped or aborted) is off the
// stall chain, so such a block may wait for the output like an emitted one.
wire end_at   = looking && end_now;
wire ev_end   = end_at && s2_keep[end_lane];
wire emit     = end_at && skip_zero && !dropping && s2_keep[end_lane];
wire out_free = !out_valid || m_msg_tready;
wire stall    = end_now && !out_free;
wire proc     = s2_valid && !stall;
assign s2_advance = proc && !hold_now;
wire pkt_done = s2_advance && s2_last;

// The buffers' bookkeeping takes a block's start and end at their positions,
// kept or not (no keep bit selected by a lane on its path): a lane is not kept
// only in a packet's last beat, and the next packet's first beat resets the
// buffers. Whether a block is left open at the packet's end (truncated) is
// decided from the kept events.
wire start_at = looking && start_now;
wire [1:0] buf_start = {start_at && start_buf, start_at && !start_buf};
wire [1:0] buf_end   = {end_at && end_buf, end_at && !end_buf};
wire [1:0] buf_open  = (buf_active & ~buf_end) | buf_start;
wire       left_open = (buf_active != 2'b00 && !end_at) || (end_at && !ev_end) || ev_start;

// Next values of the buffers' word pointers and start lanes and of end_buf,
// so that the emit stage can register the ending block's own.
reg [WORDS-1:0]  buf_word_next [0:1];
reg [LANE_W-1:0] buf_lane_next [0:1];
wire             end_buf_next = !first_in && (end_buf ^ (proc && end_at));
integer nb;
always @* begin
    for (nb = 0; nb < 2; nb = nb + 1) begin
        buf_lane_next[nb] = proc && buf_start[nb] ? start_lane : buf_lane[nb];
        if (first_in || (proc && !buf_open[nb]))
            buf_word_next[nb] = {{(WORDS-1){1'b0}}, 1'b1};
        else if (s2_advance)
            buf_word_next[nb] = buf_word[nb] << 1;
        else
            buf_word_next[nb] = buf_word[nb];
    end
end

// seq + 1 without a long carry chain: each 4-bit chunk is incremented on its
// own (one LUT level) and taken when every lower chunk of its 32-bit half is
// all ones and, in the high half, the registered carry out of the low half is set.
reg [63:0] seq_next;
reg        lower_ones;
integer c;
always @* begin
    lower_ones = 1'b1;
    for (c = 0; c < 16; c = c + 1) begin
        if (c == 8)
            lower_ones = seq_low_ones;
        seq_next[c*4 +: 4] = lower_ones ? seq[c*4 +: 4] + 4'd1 : seq[c*4 +: 4];
        lower_ones = lower_ones && seq[c*4 +: 4] == 4'hF;
    end
end

localparam [AHEAD_W-1:0] ONE_AHEAD = 1;

integer b, w;
always @(posedge clk) begin
    if (proc) begin
        if (ev_type) begin
            {end_now, end_ahead, end_lane} <= entry_end;
            {start_now, start_ahead, start_lane} <= entry_start;
            {type_now, type_ahead, type_lane} <= entry_type;
            start_wait <= 1'b1;
            block_open <= 1'b1;
        end else begin
            if (s2_advance) begin
                type_ahead <= type_ahead - 1'b1;
                start_ahead <= start_ahead - 1'b1;
                end_ahead <= end_ahead - 1'b1;
                type_now <= type_ahead == ONE_AHEAD;
                start_now <= start_wait && !ev_start && start_ahead == ONE_AHEAD;
                end_now <= block_open && !ev_end && end_ahead == ONE_AHEAD;
            end
            if (ev_start)
                start_wait <= 1'b0;
            if (ev_end)
                block_open <= 1'b0;
        end
        start_buf <= start_buf ^ start_at;
        buf_active <= buf_open;
        // counted at the position, kept or not: a block whose last byte is
        // not kept is cut short by the packet's end, after which the packet
        // has no block to number or skip (the next packet loads both), so
        // the keep bit is off this enable
        if (end_at) begin
            seq <= seq_next;
            seq_low_ones <= seq[31:0] == 32'hFFFF_FFFE;
            if (!skip_zero) begin
                skip_left <= skip_left - 1'b1;
                skip_zero <= skip_left == 16'd1;
            end
        end
        if (ev_bad) begin
            skipping <= 1'b1;
            type_now <= 1'b0;
            start_now <= 1'b0;
            end_now <= 1'b0;
            block_open <= 1'b0;
            start_wait <= 1'b0;
            buf_active <= 2'b00;
        end
    end

    // the beat is stored raw into the current word of both buffers, holding a
    // block or not: an idle buffer's word rests on word 0, where its next
    // block's first beat goes, and what it held before that is never read; so
    // the write enable is a register bit (rewriting the same word while the
    // beat waits, or with an empty stage before the beat comes, changes nothing
    // that is read)
    for (b = 0; b < 2; b = b + 1)
        for (w = 0; w < WORDS; w = w + 1)
            if (buf_word[b][w])
                buf_data[b][w] <= s2_data;

    // a packet's first beat (the stage is empty: what the last packet left
    // is cleared here): its first block starts at the first kept lane
    end_buf <= end_buf_next;
    for (b = 0; b < 2; b = b + 1) begin
        buf_word[b] <= buf_word_next[b];
        buf_lane[b] <= buf_lane_next[b];
    end
    if (first_in) begin
        skipping <= 1'b0;
        end_now <= 1'b0;
        block_open <= 1'b0;
        start_buf <= 1'b0;
        buf_active <= 2'b00;
        start_ahead <= {AHEAD_W{1'b0}};
        start_lane <= first_lane;
        start_now <= 1'b1;
        start_wait <= 1'b1;
        type_ahead <= {{(AHEAD_W-1){1'b0}}, first_type[LANE_W]};
        type_lane <= first_type[LANE_W-1:0];
        type_now <= !first_type[LANE_W];
    end
    // the packet's sideband, when its first beat enters (the verdict may come later)
    if (first_in) begin
        seq <= pend_seq;
        seq_low_ones <= pend_seq[31:0] == 32'hFFFF_FFFF;
    end
    if (first_in && pend_verdict) begin
        skip_left <= pend_skip;
        skip_zero <= pend_skip == 16'd0;
        dropping <= pend_drop;
    end
    if (verdict_due && (pend_entered || first_in)) begin
        skip_left <= s_mold_skip;
        skip_zero <= s_mold_skip == 16'd0;
        dropping <= s_mold_drop;
    end

    length_error_seen <= proc && ev_bad;
    // a block still open after the packet's last beat: registered apart from
    // the packet's end, which waits on the whole stall chain
    truncated_seen <= s2_last && !s2_aborted && !skipping && !ev_bad && left_open;
    packet_done_seen <= pkt_done;
    stat_length_error <= length_error_seen && !dropping;
    stat_truncated <= packet_done_seen && truncated_seen && !dropping;

    if (rst) begin
        skipping <= 1'b0;
        type_now <= 1'b0;
        start_now <= 1'b0;
        end_now <= 1'b0;
        block_open <= 1'b0;
        start_wait <= 1'b0;
        start_buf <= 1'b0;
        end_buf <= 1'b0;
        buf_active <= 2'b00;
        for (b = 0; b < 2; b = b + 1) begin
            buf_word[b] <= {{(WORDS-1){1'b0}}, 1'b1};
            buf_lane[b] <= {LANE_W{1'b0}};
            // bytes past a message's end are undefined, but never unknown
            for (w = 0; w < WORDS; w = w + 1)
                buf_data[b][w] <= {DATA_WIDTH{1'b0}};
        end
        length_error_seen <= 1'b0;
        truncated_seen <= 1'b0;
        packet_done_seen <= 1'b0;
        stat_length_error <= 1'b0;
        stat_truncated <= 1'b0;
    end
end

// ---------------------------------------------------------------- emit

// The ending block's words, the beat in the complete stage in place of its
// last one, rotated by its start lane. The selects (buffer, start lane, last
// word) are registered copies of the ending block's, one set per group of
// output bytes (kept apart, not merged), so no select drives the whole output
// register. The output register loads whenever it is free (no stall then),
// emitted or not: out_valid says whether it took a message, and its enable
// waits on no verdict (each group's enable reads its own copy of out_valid).
localparam EMIT_GROUPS = 4;
localparam GROUP_BYTES = (ITCH_MAX_MESSAGE_LENGTH + EMIT_GROUPS - 1) / EMIT_GROUPS;

reg [63:0] out_seq;
always @(posedge clk) begin
    if (out_free) begin
        out_valid <= emit;
        out_seq <= seq;
    end
    if (rst)
        out_valid <= 1'b0;
end

genvar g;
generate
    for (g = 0; g < EMIT_GROUPS; g = g + 1) begin : emit_group
        localparam LOW = g * GROUP_BYTES;
        localparam BYTES = LOW + GROUP_BYTES <= ITCH_MAX_MESSAGE_LENGTH ? GROUP_BYTES
                                                                       : ITCH_MAX_MESSAGE_LENGTH - LOW;
        reg              end_buf_copy, valid_copy;
        reg [LANE_W-1:0] start_lane_copy;
        reg [WORDS-1:0]  end_word_copy;
        (* keep *) always @(posedge clk) begin
            end_buf_copy <= end_buf_next;
            start_lane_copy <= end_buf_next ? buf_lane_next[1] : buf_lane_next[0];
            end_word_copy <= end_buf_next ? buf_word_next[1] : buf_word_next[0];
            if (!valid_copy || m_msg_tready)
                valid_copy <= emit;
            if (rst) begin
                end_buf_copy <= 1'b0;
                start_lane_copy <= {LANE_W{1'b0}};
                end_word_copy <= {{(WORDS-1){1'b0}}, 1'b1};
                valid_copy <= 1'b0;
            end
        end

        reg [WORDS*DATA_WIDTH-1:0] block_words;
        integer k;
        always @* begin
            for (k = 0; k < WORDS; k = k + 1)
                block_words[k*DATA_WIDTH +: DATA_WIDTH] = end_word_copy[k] ? s2_data
                                                        : end_buf_copy ? buf_data[1][k] : buf_data[0][k];
        end
        wire [WORDS*DATA_WIDTH-1:0] block_aligned = block_words >> {start_lane_copy, 3'b000};

        reg [BYTES*8-1:0] data;
        always @(posedge clk)
            if (!valid_copy || m_msg_tready)
                data <= block_aligned[16 + LOW*8 +: BYTES*8];
        assign m_msg_tdata[LOW*8 +: BYTES*8] = data;
    end
endgenerate

assign m_msg_tuser  = out_seq;
assign m_msg_tvalid = out_valid;
assign m_msg_tlast  = 1'b1;

endmodule
