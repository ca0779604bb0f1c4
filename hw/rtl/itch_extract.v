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

// A ring of skid slots in front of the align register: s_axis_tready is a
// register, and a beat looked at twice (128 bits) costs latency until the
// input idles (between packets), not an input cycle. The slot at the write
// position takes the input every cycle while the ring is not full, a beat
// there or not (a push only moves the write position), so no slot's enable
// waits on s_axis_tvalid or on the stall: each is a register.
localparam SKID = 3;
localparam RING_W = $clog2(SKID + 1);  // a slot's index, or INPUT_SRC
localparam [RING_W-1:0] INPUT_SRC = SKID;  // the align register's source: the input, not a slot

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

// the index of a one-hot ring position
function [RING_W-1:0] slot_index;
    input [SKID-1:0] at;
    integer i;
    begin
        slot_index = {RING_W{1'b0}};
        for (i = 1; i < SKID; i = i + 1)
            slot_index = slot_index | (at[i] ? i[RING_W-1:0] : {RING_W{1'b0}});
    end
endfunction

// The beat in the align register, lane by lane (each lane's registers are in
// the lane_stage blocks below): {first, user, last} here.
reg                  in_valid;
reg                  in_last, in_user, in_first;
wire [DATA_WIDTH-1:0] in_data;
wire [KEEP_WIDTH-1:0] in_keep;
wire [DATA_WIDTH-1:0] in_table_length;  // per lane: itch_message_length of its byte
// per lane: block_place of its byte as the low length byte of a block whose
// type byte is the next lane (lane 0 of the next beat for the top lane)
wire [KEEP_WIDTH*PLACE_W-1:0] in_place;
// A skid slot holds the beat and its tables (looked up from the input as it
// is pushed), so a beat from the skid enters the align register through a
// select, no table. Each lane keeps its own part; the ring here keeps
// {first, user, last}.
reg [2:0]            skid_ctl [0:SKID-1];
reg [SKID-1:0]       skid_fill;       // thermometer: bit k set when more than k slots hold a beat
reg [SKID-1:0]       skid_rd, skid_wr;  // one-hot: the oldest slot, the slot the input goes to
reg [SKID-1:0]       ctl_we;          // this ring's slot write enables and source (as each lane's)
reg [RING_W-1:0]     ctl_src;
reg                  s_ready;
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
wire                 s2_free;  // the complete stage is empty or its beat moves on at this edge
wire                 hold_now;
reg                  end_now, out_valid;
// a block ends in the complete stage's beat and the output cannot take it
wire                 stall = end_now && out_valid && !m_msg_tready;
// a packet's first beat enters the complete stage only once it is empty, so
// the previous packet's counters are out before this one's verdict is used
wire                 s1_take = in_valid && s2_free && !(s2_valid && in_first);
wire                 s1_load = !in_valid || s1_take;
// a packet's first beat enters (the stage is empty: no stall on this path)
wire                 first_in = in_valid && in_first && !s2_valid;

assign s_axis_tready = s_ready;
wire s_fire = s_axis_tvalid && s_ready;

wire [2:0]         s_ctl = {!in_packet, s_axis_tuser, s_axis_tlast};
wire [2:0]         ctl_in = ctl_src == INPUT_SRC ? s_ctl : skid_ctl[ctl_src];
wire in_packet_next = s_fire ? !s_axis_tlast : in_packet;
wire pend_clear     = (pend_entered || first_in) && (pend_verdict || verdict_due);
// a new packet's first beat outranks the clear: the flags that clear are the
// previous packet's, still set as that beat fires
wire pend_busy_next = (s_fire && !in_packet) || (pend_busy && !pend_clear);

// The ring's next state for either value of s1_load, computed before the
// stall is known, which then only selects (reset in the registers: rst is on
// no LUT). The ring is full only with s_ready low, so a beat fires only into
// a free slot. Each case: the fill, the oldest slot and the write slot after
// the edge, the align register's source (the oldest slot, or the input when
// the ring is empty), the slot write enables and s_ready.
localparam [SKID-1:0] RING_START = 1;
genvar loading;
generate
    for (loading = 0; loading < 2; loading = loading + 1) begin : ring_case
        wire            pop = loading && skid_fill[0];
        wire            push = s_fire && (skid_fill[0] || !loading);  // not taken straight into align
        wire [SKID-1:0] fill = push && !pop ? {skid_fill[SKID-2:0], 1'b1}
                             : pop && !push ? {1'b0, skid_fill[SKID-1:1]} : skid_fill;
        wire [SKID-1:0] rd = pop ? {skid_rd[SKID-2:0], skid_rd[SKID-1]} : skid_rd;
        wire [SKID-1:0] wr = push ? {skid_wr[SKID-2:0], skid_wr[SKID-1]} : skid_wr;
        wire [RING_W-1:0] src = fill[0] ? slot_index(rd) : INPUT_SRC;
        wire [SKID-1:0] we = fill[SKID-1] ? {SKID{1'b0}} : wr;
        wire            ready = !fill[SKID-1] && (in_packet_next || !pend_busy_next);
        wire [4*SKID+RING_W:0] next = {fill, rd, wr, we, src, ready};
    end
endgenerate
integer n;

always @(posedge clk) begin
    if (s1_load)
        {in_valid, in_first, in_user, in_last} <= {skid_fill[0] || s_fire, ctl_in};
    for (n = 0; n < SKID; n = n + 1)
        if (ctl_we[n])
            skid_ctl[n] <= s_ctl;
    {skid_fill, skid_rd, skid_wr, ctl_we, ctl_src, s_ready} <= s1_load ? ring_case[1].next : ring_case[0].next;

    in_packet <= in_packet_next;
    pend_busy <= pend_busy_next;
    verdict_wait <= s_fire && !in_packet;
    verdict_due <= verdict_wait;

    if (s_fire && !in_packet) begin
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

    if (rst) begin
        in_valid <= 1'b0;
        skid_fill <= {SKID{1'b0}};
        skid_rd <= RING_START;
        skid_wr <= RING_START;
        ctl_we <= RING_START;
        ctl_src <= INPUT_SRC;
        s_ready <= 1'b1;
        in_packet <= 1'b0;
        pend_busy <= 1'b0;
        verdict_wait <= 1'b0;
        verdict_due <= 1'b0;
    end
end

// ---------------------------------------------------------------- align

// Entry of lane q, read when the next type byte is there: whether a block's
// type byte there is kept, kept and good and its block ends in the next beat
// (end_now's next value, without a mux behind the lane select), kept and
// good, kept and bad (its length is not the table length), or good and its
// block ends in this beat (hold: look again); then the block's positions
// (block_place, looked up from its length byte).
localparam ENTRY_W = 5 + 3*POS_W;
localparam ENTRY_KEPT = ENTRY_W - 1, ENTRY_GOOD_END_NOW = ENTRY_W - 2, ENTRY_GOOD = ENTRY_W - 3,
           ENTRY_BAD = ENTRY_W - 4, ENTRY_HOLD = ENTRY_W - 5;
function [ENTRY_W-1:0] lane_entry;
    input         kept;
    input [7:0]   table_length;  // of the type byte at lane q
    input [7:0]   length_high;
    input [7:0]   length_low;
    input [PLACE_W-1:0] place;   // block_place(q, length_low)
    reg           bad;
    begin
        bad = table_length == 8'd0 || length_high != 8'd0 || length_low != table_length;
        lane_entry = {kept, kept && !bad && place[3*POS_W-1], kept && !bad, kept && bad,
                      kept && !bad && place[PLACE_W-1], place[0 +: 3*POS_W]};
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

wire [DATA_WIDTH-1:0]        s2_data;
wire [KEEP_WIDTH-1:0]        s2_keep;
wire [ENTRY_W-1:0]           s2_entries [0:KEEP_WIDTH-1];
reg                          s2_last, s2_aborted;
reg                          s2_live;  // s2_valid and not s2_aborted: a beat to look at

// The complete stage's registers load whenever it is free, a beat coming or
// not: s2_valid says whether they hold one (the tail only takes beats).
always @(posedge clk) begin
    if (s2_free) begin
        s2_valid <= in_valid && !(s2_valid && in_first);
        s2_last <= in_last;
        s2_aborted <= in_last && in_user;
        s2_live <= in_valid && !(s2_valid && in_first) && !(in_last && in_user);
    end
    if (s1_take) begin
        tail <= in_data[DATA_WIDTH-16 +: 16];
        tail_place <= in_place[(KEEP_WIDTH-1)*PLACE_W +: PLACE_W];
    end
    if (rst) begin
        s2_valid <= 1'b0;
        s2_live <= 1'b0;
    end
end

// Each lane's skid slots, align register and complete-stage register, with
// its own registered copies of the slot write enables, the source select and
// the stage valid flags (kept apart, not merged, each updated as the
// original): each lane computes its own free and load enables from them and
// the stall, so no one net drives the enable of a whole beat and its tables. Slot: {place,
// table_length, keep, data}.
localparam LANE_SLOT_W = 8 + 1 + 8 + PLACE_W;
genvar lane;
generate
    for (lane = 0; lane < KEEP_WIDTH; lane = lane + 1) begin : lane_stage
        wire [7:0]             s_byte = s_axis_tdata[lane*8 +: 8];
        wire [LANE_SLOT_W-1:0] s_lane = {block_place((lane + 1) % KEEP_WIDTH, s_byte),
                                         itch_message_length(s_byte), s_axis_tkeep[lane], s_byte};
        reg [SKID-1:0]   slot_we;
        reg [RING_W-1:0] src;
        reg              in_valid_copy, in_first_copy, s2_valid_copy;
        // s2_free and s1_load from this lane's copies and the stall
        wire free = !s2_valid_copy || (!stall && !hold_now);
        wire load = !in_valid_copy || (free && !(s2_valid_copy && in_first_copy));
        (* keep *) always @(posedge clk) begin
            slot_we <= load ? ring_case[1].we : ring_case[0].we;
            src <= load ? ring_case[1].src : ring_case[0].src;
            if (load)
                {in_valid_copy, in_first_copy} <= {skid_fill[0] || s_fire, ctl_in[2]};
            if (free)
                s2_valid_copy <= in_valid_copy && !(s2_valid_copy && in_first_copy);
            if (rst) begin
                slot_we <= RING_START;
                src <= INPUT_SRC;
                in_valid_copy <= 1'b0;
                s2_valid_copy <= 1'b0;
            end
        end
        reg [LANE_SLOT_W-1:0] slot [0:SKID-1];
        reg [LANE_SLOT_W-1:0] beat;
        reg [7:0]             s2_byte;
        reg                   s2_kept;
        reg [ENTRY_W-1:0]     s2_entry;
        integer k;
        always @(posedge clk) begin
            for (k = 0; k < SKID; k = k + 1)
                if (slot_we[k])
                    slot[k] <= s_lane;
            if (load)
                beat <= src == INPUT_SRC ? s_lane : slot[src];
            if (free) begin
                s2_byte <= beat[7:0];
                s2_kept <= beat[8];
                s2_entry <= entries[lane*ENTRY_W +: ENTRY_W];
            end
        end
        assign in_data[lane*8 +: 8] = beat[7:0];
        assign in_keep[lane] = beat[8];
        assign in_table_length[lane*8 +: 8] = beat[9 +: 8];
        assign in_place[lane*PLACE_W +: PLACE_W] = beat[17 +: PLACE_W];
        assign s2_data[lane*8 +: 8] = s2_byte;
        assign s2_keep[lane] = s2_kept;
        assign s2_entries[lane] = s2_entry;
    end
endgenerate

// ---------------------------------------------------------------- complete

// Positions (beats ahead, lane) of the next type byte, of the start of its
// block, and of the last byte of the block whose type byte was seen; each
// with a flag "in this beat" kept as a register, so no event waits on a compare.
reg [AHEAD_W-1:0] type_ahead, start_ahead, end_ahead;
reg [LANE_W-1:0]  type_lane, start_lane, end_lane;
reg               type_now, start_now;  // end_now is declared above, with the stall's registers
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
reg        length_error_seen, truncated_seen, packet_done_seen;

wire [ENTRY_W-1:0] entry = s2_entries[type_lane];
wire [POS_W-1:0]   entry_end   = entry[2*POS_W +: POS_W];
wire [POS_W-1:0]   entry_start = entry[POS_W +: POS_W];
wire [POS_W-1:0]   entry_type  = entry[0 +: POS_W];
// A length error clears the start and end flags and the open block until the
// next packet, so only type events read skipping.
wire               looking = s2_live && !skipping;

wire ev_type  = looking && type_now && entry[ENTRY_GOOD];  // a good type byte
wire ev_bad   = looking && type_now && entry[ENTRY_BAD];
assign hold_now = looking && type_now && entry[ENTRY_HOLD];
wire ev_start = s2_live && start_now && s2_keep[start_lane];
// A block's last byte position is reached (end_at) in this beat; it is there
// (ev_end) unless the packet ended before it. The stall looks only at the
// registered position flag and the output: whether the block is emitted
// (skipped, dropped, cut short, the packet skipped or aborted) is off the
// stall chain, so such a block may wait for the output like an emitted one.
wire end_at   = s2_live && end_now;
wire ev_end   = end_at && s2_keep[end_lane];
wire emit     = end_at && skip_zero && !dropping && s2_keep[end_lane];
wire out_free = !out_valid || m_msg_tready;
wire proc     = s2_valid && !stall;
wire s2_advance = proc && !hold_now;
assign s2_free = !s2_valid || (!stall && !hold_now);
wire pkt_done = s2_advance && s2_last;

// The buffers' bookkeeping takes a block's start and end at their positions,
// kept or not (no keep bit selected by a lane on its path): a lane is not kept
// only in a packet's last beat, and the next packet's first beat resets the
// buffers. Whether a block is left open at the packet's end (truncated) is
// decided from the kept events.
wire start_at = s2_live && start_now;
wire [1:0] buf_start = {start_at && start_buf, start_at && !start_buf};
wire [1:0] buf_end   = {end_at && end_buf, end_at && !end_buf};
wire [1:0] buf_open  = (buf_active & ~buf_end) | buf_start;
wire       left_open = (buf_active != 2'b00 && !end_at) || (end_at && !ev_end) || ev_start;

// The buffers' word pointers and start lanes and end_buf after the edge when
// the stage proceeds (computed before the stall is known, which only
// enables them), so that the emit stage can register the ending block's own.
localparam [WORDS-1:0] FIRST_WORD = 1;
reg [WORDS-1:0]  buf_word_proc [0:1];
reg [LANE_W-1:0] buf_lane_proc [0:1];
wire             end_buf_proc = end_buf ^ end_at;
integer nb;
always @* begin
    for (nb = 0; nb < 2; nb = nb + 1) begin
        buf_lane_proc[nb] = buf_start[nb] ? start_lane : buf_lane[nb];
        if (!buf_open[nb])
            buf_word_proc[nb] = FIRST_WORD;
        else if (!hold_now)
            buf_word_proc[nb] = buf_word[nb] << 1;
        else
            buf_word_proc[nb] = buf_word[nb];
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

// end_now's next value when the stage proceeds
reg end_now_proc;
always @* begin
    if (looking && type_now && entry[ENTRY_KEPT])  // ev_type or ev_bad
        end_now_proc = entry[ENTRY_GOOD_END_NOW];
    else if (!hold_now)
        end_now_proc = block_open && !ev_end && end_ahead == ONE_AHEAD;
    else
        end_now_proc = end_now;
end

integer b, w;
always @(posedge clk) begin
    if (proc) begin
        end_now <= end_now_proc;
        if (ev_type) begin
            {end_ahead, end_lane} <= entry_end[0 +: POS_W-1];
            {start_now, start_ahead, start_lane} <= entry_start;
            {type_now, type_ahead, type_lane} <= entry_type;
            start_wait <= 1'b1;
            block_open <= 1'b1;
        end else begin
            if (!hold_now) begin
                type_ahead <= type_ahead - 1'b1;
                start_ahead <= start_ahead - 1'b1;
                end_ahead <= end_ahead - 1'b1;
                type_now <= type_ahead == ONE_AHEAD;
                start_now <= start_wait && !ev_start && start_ahead == ONE_AHEAD;
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

    if (proc) begin
        end_buf <= end_buf_proc;
        for (b = 0; b < 2; b = b + 1) begin
            buf_word[b] <= buf_word_proc[b];
            buf_lane[b] <= buf_lane_proc[b];
        end
    end
    // a packet's first beat (the stage is empty: what the last packet left
    // is cleared here): its first block starts at the first kept lane
    if (first_in) begin
        end_buf <= 1'b0;
        for (b = 0; b < 2; b = b + 1)
            buf_word[b] <= FIRST_WORD;
        end_now <= 1'b0;
        skipping <= 1'b0;
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
            if (first_in) begin
                end_buf_copy <= 1'b0;
                start_lane_copy <= buf_lane[0];
                end_word_copy <= FIRST_WORD;
            end else if (proc) begin
                end_buf_copy <= end_buf_proc;
                start_lane_copy <= end_buf_proc ? buf_lane_proc[1] : buf_lane_proc[0];
                end_word_copy <= end_buf_proc ? buf_word_proc[1] : buf_word_proc[0];
            end
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
