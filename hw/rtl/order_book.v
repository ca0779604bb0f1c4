// Order book: book-event records in (s_axis, one record per beat), BBO update
// records out (m_axis, one record per beat), for every symbol at once.
//
//   s_axis ─► order_store (ref -> order) ─► price_levels (levels, top-N) ─► BBO compare ─► m_axis
//
// A pipeline of nine stages behind a hash register and an input queue, an event entering each
// cycle while older ones are in flight, in feed order:
//   hash        the event from s_axis, with its references' bucket hash parts
//               (order_hash.vh: the multiplier blocks' partial products)
//   input       the event, with its references' bucket hashes (the parts summed), in a
//               queue of two: no adder and no RAM address waits on a multiplier block
//   S0 accept   the order store reads the reference's buckets, while the output
//               FIFO has a slot for every event taken and not yet out (out_claims)
//   R  read     the buckets in the order store's RAM output registers, copied
//               into flip-flops as the event leaves R (no logic behind a RAM read)
//   S1 find     the order store compares them with the reference
//   S2 found    the order (or the add's room) registered
//   (W)         a register beside the path that takes S2's event when A cannot (see
//               below): no cycle of an event's own path
//   A  address  the level request in flip-flops: it reads its side's head word and
//               level as the event enters L, at addresses that come from registers
//               (from S2 they would follow the order store's pick of the found order)
//   L  levels   they are in price_levels' RAM output registers, copied into
//               flip-flops as the event leaves L
//   S3 compare  price_levels compares the request with its side, registered
//   S4 decide   price_levels writes the outcome; the order store's write is
//               registered as the event leaves (and made a cycle later, beside
//               S5); the symbol's quote and stale word (read as L left) registered
//   S5 out      the quote compared, the record put in a 16-record FIFO in front of
//               m_axis; S5 always leaves
// Each memory reads the word written in the same cycle (sdp_ram WRITE_FIRST), so
// an event sees the writes of the events ahead of it: its symbol's quote and
// stale word without a stall, its side's head word and level from price_levels,
// which holds an event in S3 for a cycle when S4 holds one of the same side (its
// write forwarded). The order store holds an event in S1, reading its buckets
// again, while one ahead of it, not yet written, shares a bucket (order_store
// find_valid; R passes it on); a level scan and an insert that moves orders hold the
// stages behind them, and a sink that does not take records stops S0. No
// stall depends on a compare made in its cycle, and none passes W in one cycle: S3's and S4's
// stop L and A, W takes the event S2 sends meanwhile, and S2 stops on W's fill, a flip-flop, a cycle
// later, so the stall's path to the enables of either half starts at flip-flops and crosses two
// stages at most. A U passes as two events: its remove
// (U1, the original's reference) and, a cycle behind it, its add (U2, the new
// reference at the original's locate and side); its record leaves with U2.
//
// Book semantics are the software books'
// (host/book/oracle.py): A/F add; E/C/X reduce (more than the order has: counted as
// overfill, the order goes); D removes; U removes the original and adds the new
// reference at the original's locate and side; a reference not in the store is
// counted and ignored; an add of a live reference or of 0 shares is counted and
// ignored. E/C/X/D/U change the book of the order's own locate.
//
// A record leaves when the event changed its symbol's best bid or ask (price or
// size), when the symbol became stale, and for every stock directory (R) event.
// A symbol becomes stale when one of its adds finds no room (order store: both
// cuckoo buckets and the stash full; price levels: a new price on a side already holding LEVELS
// prices, or one that needs a block of the market-wide level pool when none is free; both
// counted as level_store_full): the order is dropped, so the symbol's book can no longer be trusted, and every later record
// of the symbol carries the stale flag until the host clears it (stale_clear_*).
// Adds and R events with stock locate >= MAX_SYMBOLS are counted and dropped.
//
// Optional top-N output (DEPTH_OUT > 0, at most TOP_N): each record is DEPTH_OUT
// levels wider (host/schema/bbo_records.py), and a record also leaves when the event
// changed one of the best DEPTH_OUT levels of the side it touched; it then
// carries that side's levels after the event (BBO_FLAG_DEPTH, BBO_FLAG_ASK), and
// BBO_FLAG_DEPTH_ONLY when the BBO did not change. "Changed" is the software
// book's rule, the levels after the whole event against those before it: a U
// that puts the same shares back at the same price changes nothing.
//
// The order store keeps each order's level reference, {pool block, slot} (price_levels), so its
// entries are $clog2(LEVEL_BLOCKS) bits wider than a slot.
//
// Per-symbol memories beside the book: the BBO last sent, the stale flags (32 per
// word, and a copy for the CSR window's read port) and the symbol names (second
// port for the CSR window). All are cleared after rst; s_axis_tready is low until
// then. A stale-flag clear passes the stages as an event; stale_clear_ready answers
// it once it is applied.

module order_book #(
    parameter MAX_SYMBOLS = 4096,
    parameter ORDER_BUCKET_BITS = 14,
    parameter ORDER_WAYS = 4,
    parameter LEVELS = 64,
    parameter TOP_N = 8,
    parameter DEPTH_OUT = 0,       // levels per side in each record; 0: BBO only
    parameter ULTRA_RAM = 0,       // 1: order store and level pool in UltraRAM (UltraScale+)
    parameter HEAD_ULTRA_RAM = 0,  // 1: price_levels' head words (one per symbol and side) in UltraRAM too
    // the level pool (price_levels): LEVEL_BLOCKS blocks of BLOCK_LEVELS levels for the whole market
    parameter BLOCK_LEVELS = LEVELS < 8 ? LEVELS : 8,
    parameter LEVEL_BLOCKS = 2 * MAX_SYMBOLS * LEVELS / BLOCK_LEVELS,
    // the level pool's block RAM as memories this many bits wide side by side (0: one memory):
    // a pool deeper than its RAM's widest shape then takes one shape, with no multiplexer behind
    // the RAMs' outputs (ECP5: 4 for a pool of 4 096 levels, 4096 x 4 per block RAM)
    parameter LEVEL_RAM_SLICE = 0,
    parameter RECORD_WIDTH = 336,  // must equal BOOK_EVENT_WIDTH
    parameter OUT_WIDTH = 336 + DEPTH_OUT * 128  // must equal BBO_UPDATE_WIDTH + DEPTH_OUT * BBO_LEVEL_WIDTH
) (
    input  wire                     clk,
    input  wire                     rst,

    input  wire [RECORD_WIDTH-1:0]  s_axis_tdata,
    input  wire                     s_axis_tvalid,
    output wire                     s_axis_tready,

    output wire [OUT_WIDTH-1:0]     m_axis_tdata,
    output wire                     m_axis_tvalid,
    input  wire                     m_axis_tready,
    output wire                     m_axis_tlast,

    // stale flags: clear the 1 bits of mask in word stale_clear_word
    input  wire                     stale_clear_valid,
    output wire                     stale_clear_ready,
    input  wire [LOCATE_WIDTH-6:0]  stale_clear_word,
    input  wire [31:0]              stale_clear_mask,
    // CSR read ports, data one cycle after the address
    input  wire [LOCATE_WIDTH-6:0]  csr_stale_addr,
    output wire [31:0]              csr_stale_data,
    input  wire [LOCATE_WIDTH-1:0]  csr_symbol_addr,
    output reg  [63:0]              csr_symbol_data,

    output wire [31:0]              status_live_orders,
    output wire [31:0]              status_free_blocks,  // level pool blocks free
    output reg  [31:0]              status_stale_symbols,
    output reg                      stat_event,
    output reg                      stat_bbo_update,
    output reg                      stat_symbol_update,
    output reg                      stat_unknown_ref,
    output reg                      stat_duplicate_ref,
    output reg                      stat_overfill,
    output reg                      stat_zero_share_add,
    output reg                      stat_order_store_full,
    output reg                      stat_level_store_full,
    output reg                      stat_locate_range,
    output reg                      stat_stale_raised,
    output wire                     stat_level_scan
);

`include "book_event.vh"
`include "bbo_update.vh"
`include "order_hash.vh"

localparam LOCATE_WIDTH = $clog2(MAX_SYMBOLS);
localparam SLOT_WIDTH = $clog2(LEVELS);
localparam BLOCK_WIDTH = $clog2(LEVEL_BLOCKS);
localparam REF_WIDTH = BLOCK_WIDTH + SLOT_WIDTH;  // a level's reference {pool block, slot}
`include "order_entry.vh"
localparam ENTRY_WIDTH = ENTRY_LEVEL_LSB + REF_WIDTH;  // order_store entry
localparam CACHE_BITS = TOP_N * BBO_LEVEL_WIDTH;  // price_levels' resp_levels
// the record's depth part; one spare bit keeps the vector legal when DEPTH_OUT = 0
localparam DEPTH_BITS = DEPTH_OUT * BBO_LEVEL_WIDTH + 1;
localparam [TOP_N-1:0] DEPTH_MASK = (1 << DEPTH_OUT) - 1;  // the cached levels the output carries
// bbo_ram holds, per symbol, the record's quote fields (bid_price to ask_size) as the record lays
// them out; QUOTE_<FIELD> is a field's offset in that word
localparam QUOTE_LSB = BBO_BID_PRICE_LSB;
localparam QUOTE_WIDTH = BBO_ASK_SIZE_LSB + BBO_ASK_SIZE_WIDTH - QUOTE_LSB;
localparam QUOTE_BID_PRICE = BBO_BID_PRICE_LSB - QUOTE_LSB, QUOTE_ASK_PRICE = BBO_ASK_PRICE_LSB - QUOTE_LSB,
           QUOTE_BID_SIZE = BBO_BID_SIZE_LSB - QUOTE_LSB, QUOTE_ASK_SIZE = BBO_ASK_SIZE_LSB - QUOTE_LSB;

initial begin
    if (RECORD_WIDTH != BOOK_EVENT_WIDTH || OUT_WIDTH != BBO_UPDATE_WIDTH + DEPTH_OUT * BBO_LEVEL_WIDTH) begin
        $error("order_book: RECORD_WIDTH must be %0d and OUT_WIDTH %0d", BOOK_EVENT_WIDTH,
               BBO_UPDATE_WIDTH + DEPTH_OUT * BBO_LEVEL_WIDTH);
        $finish;
    end
    if (DEPTH_OUT < 0 || DEPTH_OUT > TOP_N) begin
        $error("order_book: DEPTH_OUT must be in 0..TOP_N");
        $finish;
    end
    if (BBO_LEVEL_PRICE_LSB != 0 || BBO_LEVEL_PRICE_WIDTH != 32 || BBO_LEVEL_SIZE_LSB != BBO_LEVEL_PRICE_WIDTH
            || BBO_LEVEL_ORDERS_LSB != BBO_LEVEL_SIZE_LSB + BBO_LEVEL_SIZE_WIDTH) begin
        $error("order_book: a depth level of bbo_update.vh must be price_levels' {count, shares, price}");
        $finish;
    end
    // bbo_next, bbo_record and symbol_record below concatenate fields in the order of
    // bbo_update.vh, some taken whole from book_event.vh
    if (BBO_KIND_LSB != 0 || BBO_FLAGS_LSB != BBO_KIND_LSB + BBO_KIND_WIDTH
            || BBO_STOCK_LOCATE_LSB != BBO_FLAGS_LSB + BBO_FLAGS_WIDTH
            || BBO_TIMESTAMP_LSB != BBO_STOCK_LOCATE_LSB + BBO_STOCK_LOCATE_WIDTH
            || BBO_SEQ_LSB != BBO_TIMESTAMP_LSB + BBO_TIMESTAMP_WIDTH
            || BBO_BID_PRICE_LSB != BBO_SEQ_LSB + BBO_SEQ_WIDTH
            || BBO_ASK_PRICE_LSB != BBO_BID_PRICE_LSB + BBO_BID_PRICE_WIDTH
            || BBO_BID_SIZE_LSB != BBO_ASK_PRICE_LSB + BBO_ASK_PRICE_WIDTH
            || BBO_ASK_SIZE_LSB != BBO_BID_SIZE_LSB + BBO_BID_SIZE_WIDTH
            || BBO_UPDATE_WIDTH != BBO_ASK_SIZE_LSB + BBO_ASK_SIZE_WIDTH
            || BBO_STOCK_LOCATE_WIDTH != REC_STOCK_LOCATE_WIDTH || BBO_TIMESTAMP_WIDTH != REC_TIMESTAMP_WIDTH
            || BBO_SEQ_WIDTH != REC_SEQ_WIDTH || BBO_BID_SIZE_WIDTH != REC_NEW_ORDER_REF_WIDTH) begin
        $error("order_book: the fields of bbo_update.vh are not in the order the records are built in");
        $finish;
    end
    if (MAX_SYMBOLS < 64 || MAX_SYMBOLS > 65536 || (MAX_SYMBOLS & (MAX_SYMBOLS - 1)) != 0) begin
        $error("order_book: MAX_SYMBOLS must be a power of two in 64..65536");
        $finish;
    end
end

assign m_axis_tlast = 1'b1;

// ---- the input: the hash register (the event and its references' hash parts), then the input
// queue (the event and the hashes of its reference and (a U's) new one) ----
// order_hash.vh in two cycles: the multiplier blocks feed a register, the adders behind them
// another. The input queue holds two events, written at one pointer and read at another, and
// says whether it has room in a flip-flop (in_room): the stall of the stages moves its read
// pointer only, so s_axis_tready and the enables of the ~1 000 flip-flops of the hash register
// and the queue follow registers alone.

wire [31:0] hash_next_key = order_hash_key(s_axis_tdata[REC_ORDER_REF_LSB +: REC_ORDER_REF_WIDTH]);
wire [31:0] hash_next_new_key = order_hash_key(s_axis_tdata[REC_NEW_ORDER_REF_LSB +: REC_NEW_ORDER_REF_WIDTH]);
reg                    hash_valid;
reg [RECORD_WIDTH-1:0] hash_data;
reg [ORDER_HASH_PARTS_WIDTH-1:0] hash_parts0, hash_parts1, hash_new_parts0, hash_new_parts1;

// ---- S0: the event taken from the input queue, a U's add, or a stale-flag clear ----

// the event's kind decoded and its locate's range tested as it enters the input queue, so
// S0's take and the stage registers behind it start at flip-flops
wire [REC_KIND_WIDTH-1:0]         hash_kind   = hash_data[REC_KIND_LSB +: REC_KIND_WIDTH];
wire [REC_STOCK_LOCATE_WIDTH-1:0] hash_locate = hash_data[REC_STOCK_LOCATE_LSB +: REC_STOCK_LOCATE_WIDTH];
wire hash_add    = hash_kind == "A" || hash_kind == "F";
wire hash_change = hash_kind == "E" || hash_kind == "C" || hash_kind == "X" || hash_kind == "D" || hash_kind == "U";
wire hash_range  = hash_locate < MAX_SYMBOLS;
// an input queue entry: {in_add, in_change, in_range, in_find, in_update (U), in_whole (D or U),
// in_symbol (R), the hashes of a U's new reference, the event}; the hashes of its reference
// beside it (in_hashes0/1: two registers, each read as the head or the next head, os_find_hash*)
localparam IN_ENTRY_WIDTH = 7 + 2 * 32 + RECORD_WIDTH;
wire [IN_ENTRY_WIDTH-1:0] hash_entry = {
    hash_add, hash_change, hash_range, (hash_add && hash_range) || hash_change,
    hash_kind == "U", hash_kind == "D" || hash_kind == "U", hash_kind == "R",
    order_hash_sum(hash_new_parts0), order_hash_sum(hash_new_parts1), hash_data
};
wire [63:0] hash_sums = {order_hash_sum(hash_parts0), order_hash_sum(hash_parts1)};
reg [IN_ENTRY_WIDTH-1:0] in_queue [0:1];
reg [63:0]               in_hashes0, in_hashes1;
reg        in_wr, in_rd;      // the entry written next, the entry at the head
reg [1:0]  in_count;
reg        in_valid, in_room; // in_count != 0, in_count < 2, registered with it
wire       in_add, in_change, in_range, in_find, in_update, in_whole, in_symbol;
wire [31:0] in_new_hash0, in_new_hash1;
wire [RECORD_WIDTH-1:0] in_data;
assign {in_add, in_change, in_range, in_find, in_update, in_whole, in_symbol,
        in_new_hash0, in_new_hash1, in_data} = in_queue[in_rd];
wire [REC_STOCK_LOCATE_WIDTH-1:0] in_locate = in_data[REC_STOCK_LOCATE_LSB +: REC_STOCK_LOCATE_WIDTH];
wire [REC_ORDER_REF_WIDTH-1:0]    in_ref    = in_data[REC_ORDER_REF_LSB +: REC_ORDER_REF_WIDTH];

reg [LOCATE_WIDTH:0] clear_index;
reg  cleared;         // the memories are cleared after rst
reg  u2_pending;      // a U's remove entered R: its add enters next
reg  clear_in_flight; // a stale-flag clear was taken and has not yet been applied (S5)
reg [REC_NEW_ORDER_REF_WIDTH-1:0] u2_ref;
reg [REC_SHARES_WIDTH-1:0]        u2_shares;
reg [REC_PRICE_WIDTH-1:0]         u2_price;
reg [REC_SEQ_WIDTH-1:0]           u2_seq;
reg [REC_TIMESTAMP_WIDTH-1:0]     u2_timestamp;
reg [31:0]                        u2_hash0, u2_hash1;

wire os_find_ready, os_find_valid, os_hit, os_free, os_s1_blocked, os_fewer, os_no_more;
wire [ENTRY_WIDTH-1:0] os_entry;
wire r_ready;
wire os_find_go = u2_pending ? 1'b1 : (!stale_clear_valid && in_valid && in_find);
wire [63:0] os_find_ref = u2_pending ? u2_ref : in_ref;
reg  out_open;  // the output FIFO has a slot for one more event's record (see out_claims)
wire s0_open = cleared && r_ready && (os_find_ready || !os_find_go) && out_open;
// what S0 offers (a U's add, else a clear, else the queue's head) decides from registers which
// fields R's and the fields queue's flip-flops take; the take itself, behind the stall, only
// their enables and the event's flags
wire clear_offered = !u2_pending && stale_clear_valid && !clear_in_flight;
wire take_u2 = s0_open && u2_pending;
wire take_clear = s0_open && clear_offered;
wire take_event = s0_open && !u2_pending && !stale_clear_valid && in_valid;
wire in_push = hash_valid && in_room;          // the input queue takes the hash register's event
wire hash_free = !hash_valid || in_room;       // the hash register takes the next event
wire [1:0] in_count_next = in_count + in_push - take_event;
// The order store's read addresses come from registers: the hashes of the find S0 offers,
// chosen a cycle ahead, not from the queue's read pointer and the U's mux. Both candidates come
// from registers, and S0's open, where the stall ends, chooses between them last:
// if S0 takes nothing, a U's add waiting or the queue's head (the event pushed now into an
// empty queue); if S0 is open, the U's add is taken (then the head is next), or a clear (the same
// head), or the head's event: a U's remove (its add next), else the entry behind it.
reg  [31:0] os_find_hash0, os_find_hash1;
wire [63:0] head_hashes   = in_push && in_wr == in_rd ? hash_sums : in_rd ? in_hashes1 : in_hashes0;
wire [63:0] behind_hashes = in_push && in_wr != in_rd ? hash_sums : in_rd ? in_hashes0 : in_hashes1;
wire        head_taken    = !u2_pending && !stale_clear_valid && in_valid;  // take_event when S0 is open
wire [63:0] held_hashes   = u2_pending ? {u2_hash0, u2_hash1} : head_hashes;
wire [63:0] open_hashes   = !head_taken ? head_hashes : in_update ? {in_new_hash0, in_new_hash1} : behind_hashes;
assign s_axis_tready = cleared && hash_free;
wire s0_find = take_u2 || (take_event && in_find);

// ---- R: the order store's buckets in its RAMs' output registers; S1: it compares them with
// the reference, from flip-flops; S2: the order found, or the add's room, registered: the level
// request leaves from here ----

reg        r_valid;
reg        r_add, r_change, r_whole, r_u1, r_u2, r_symbol, r_clear;
reg [LOCATE_WIDTH-1:0]            r_locate;
reg                               r_sell;
reg [REC_SHARES_WIDTH-1:0]        r_shares;
reg [REC_PRICE_WIDTH-1:0]         r_price;

// The fields only the record needs (the new reference or the symbol name, the sequence number, the
// timestamp, a clear's mask) do not pass the stages: they wait in a queue beside them, read by S5
// (every event in R reaches S5, in order; at most nine are in R to S5, W included), so they cost
// no flip-flops in each stage. The queue's tail slot is written every cycle (of 16 slots, the one
// past the last event's is free) and the tail moves on as the event enters R: the stall reaches
// a 4-bit pointer, not the write enables of the queue's LUT RAMs.
localparam FIELDS_WIDTH = REC_NEW_ORDER_REF_WIDTH + REC_SEQ_WIDTH + REC_TIMESTAMP_WIDTH + 32;
reg [FIELDS_WIDTH-1:0] fields_queue [0:15];
reg [3:0]              fields_tail, fields_head;
wire [REC_NEW_ORDER_REF_WIDTH-1:0] s5_new_ref;  // U: the new reference; R: the symbol name
wire [REC_SEQ_WIDTH-1:0]           s5_seq;
wire [REC_TIMESTAMP_WIDTH-1:0]     s5_timestamp;
wire [31:0]                        s5_mask;     // a clear's mask
assign {s5_new_ref, s5_seq, s5_timestamp, s5_mask} = fields_queue[fields_head];

reg        s1_valid, s2_valid;
reg        s1_add, s2_add;        // A/F, or a U's add (u2)
reg        s1_change, s2_change;  // E/C/X/D, or a U's remove (u1)
reg        s1_whole, s2_whole;    // D, or a U's remove: the whole order goes
reg        s1_u1, s1_u2, s1_symbol, s1_clear;
reg        s2_u1, s2_u2, s2_symbol, s2_clear;
// A/F and R: the event's locate and side; a clear: its word << 5. In S2 a U's add has its
// remove's (u_locate, or the order found as the remove leaves S2): the book of an event that
// finds no order in S2 is a flip-flop, as the order found's is (the order store's find_entry).
reg [LOCATE_WIDTH-1:0]            s1_locate, s2_locate;
reg                               s1_sell, s2_sell;
reg [REC_SHARES_WIDTH-1:0]        s1_shares, s2_shares;
reg [REC_PRICE_WIDTH-1:0]         s1_price, s2_price;

// a U's remove, as its add needs it: the original's book, whether it was found, and whether
// the new order has the original's price and shares
reg                    u_found, u_sell, u_same;
reg [LOCATE_WIDTH-1:0] u_locate;

wire [LOCATE_WIDTH-1:0] found_locate = os_entry[0 +: LOCATE_WIDTH];
wire                    found_sell   = os_entry[ENTRY_SIDE_LSB];
wire [31:0]             found_price  = os_entry[ENTRY_PRICE_LSB +: 32];
wire [31:0]             found_shares = os_entry[ENTRY_SHARES_LSB +: 32];
wire [REF_WIDTH-1:0]    found_slot   = os_entry[ENTRY_LEVEL_LSB +: REF_WIDTH];  // its level's reference
// What a reduce takes and whether the order goes are compares, made in the order store's S1
// (os_fewer, os_no_more); what is left is subtracted in S3, from registers, not behind the order
// store's pick of the found entry.
wire over        = !s2_whole && os_fewer;
wire removes_all = s2_whole || os_no_more;

wire s2_alive    = !s2_u2 || u_found;          // a U's add after a remove that found nothing: none
wire s1_find     = s1_add || s1_change;
wire s2_find     = s2_add || s2_change;
wire add_places  = s2_add && s2_alive && !os_hit && s2_shares != 0 && os_free;
wire add_refused = s2_add && s2_alive && !os_hit && s2_shares != 0 && !os_free;
wire reduce      = s2_change && os_hit;
// the book the level request reads: one multiplexer in front of W's choice
wire [LOCATE_WIDTH-1:0] book_locate = s2_change ? found_locate : s2_locate;
wire                    book_sell   = s2_change ? found_sell : s2_sell;

// ---- A: the level request in flip-flops; L: its side in price_levels' RAM output registers; S3:
// the levels compare, from flip-flops; S4: they decide, and the order store's write is registered
// as the event leaves ----

reg        l_valid, s3_valid, s4_valid;
wire       l_level, l_add, l_reduce, l_compare, l_stale_new;
reg        s3_level, s3_add, s3_reduce, s3_compare, s3_stale_new;
reg        s4_level, s4_add, s4_reduce, s4_compare, s4_stale_new;
wire       l_u1, l_u2, l_u_same, l_symbol, l_clear;
reg        s3_u1, s3_u2, s3_u_same, s3_symbol, s3_clear;
reg        s4_u1, s4_u2, s4_u_same, s4_symbol, s4_clear;
wire [LOCATE_WIDTH-1:0]           l_locate;
reg [LOCATE_WIDTH-1:0]            s3_locate, s4_locate;
wire                              l_sell;
reg                               s3_sell, s4_sell;
wire [REC_SHARES_WIDTH-1:0]       l_shares;
reg [REC_SHARES_WIDTH-1:0]        s3_shares, s4_shares;
wire [REC_PRICE_WIDTH-1:0]        l_price;
reg [REC_PRICE_WIDTH-1:0]         s3_price, s4_price;
wire [31:0]                       l_had;
reg [31:0]                        s3_had, s4_left;  // the found order's shares; what is left of them
wire                              l_removes_all;
reg                               s3_removes_all, s4_keeps;  // the order goes; the write keeps it
wire [REF_WIDTH-1:0]              l_slot;
reg [REF_WIDTH-1:0]               s3_slot, s4_slot;

// The event leaving S2 as A takes it: {level request, add placed, reduce, compare, add
// refused, u1, u2, u_same, symbol, clear, takes the order's shares, locate, sell, shares, price,
// the order's shares, removes all, slot}. What a reduce takes off its level is chosen in L, from
// L's flip-flops: S2 registers only the compare, not a 32-bit choice behind it. L's flip-flops
// hold price_levels' P0 request (p0_*): it keeps no copy whose enables wait on L's stall.
localparam L_WORD_WIDTH = 11 + LOCATE_WIDTH + 1 + REC_SHARES_WIDTH + REC_PRICE_WIDTH + 32 + 1 + REF_WIDTH;
wire [L_WORD_WIDTH-1:0] s2_word = {
    s2_valid && (add_places || reduce), add_places, reduce,
    (s2_add && s2_alive) || (reduce && !s2_u1), add_refused, s2_u1, s2_u2, u_same, s2_symbol, s2_clear,
    s2_change && (s2_whole || over), book_locate, book_sell, s2_shares, s2_change ? found_price : s2_price,
    found_shares, removes_all, found_slot
};
// W: a register beside S2 that takes S2's event when A cannot, so S2 advances on a
// flip-flop (!w_valid) and the stall from S3 and S4 ends at A: the stages in front of A stop a
// cycle later, on W's fill, and nothing behind A waits on them. W copies S2's event whenever it
// is empty (its enables are a flip-flop too); it holds one when A did not take it.
// A holds the event entering L, so the level request's RAM addresses (its book, its level's
// reference) leave flip-flops, not the order store's pick behind S2 and W's multiplexer.
reg                     w_valid, a_valid;
reg [L_WORD_WIDTH-1:0]  w_word, a_word, l_word;
// A's fields that address the level request's reads: its level, its level's reference, its book
localparam L_LEVEL = L_WORD_WIDTH - 1, L_SLOT = 0, L_PRICE = REF_WIDTH + 1 + 32,
           L_BOOK = L_PRICE + REC_PRICE_WIDTH + REC_SHARES_WIDTH;  // {locate, sell}
wire l_takes_had;  // the request's shares are the order's (l_req_shares); nothing after L reads it
assign {l_level, l_add, l_reduce, l_compare, l_stale_new, l_u1, l_u2, l_u_same, l_symbol, l_clear,
        l_takes_had, l_locate, l_sell, l_shares, l_price, l_had, l_removes_all, l_slot} = l_word;
// the shares the level request adds, or takes off the level (the order's shares where the reduce
// takes them all)
wire [31:0] l_req_shares = l_takes_had ? l_had : l_shares;
wire [L_WORD_WIDTH-1:0] a_next = w_valid ? w_word : s2_word;  // the event entering A

wire lv_ready, lv_cmp_ready, lv_cmp_ready_next, lv_waits, lv_waits_next, lv_ok;
wire [REF_WIDTH-1:0] lv_slot;
wire [BLOCK_WIDTH:0] lv_free_blocks;
assign status_free_blocks = {{31-BLOCK_WIDTH{1'b0}}, lv_free_blocks};
wire [31:0] lv_top_price;
wire [63:0] lv_top_shares;
wire [CACHE_BITS-1:0] lv_levels;
wire [TOP_N-1:0] lv_levels_changed;

// The stall from S4 back to A. S4 stops while P2 waits (two flip-flops: one set as P2 takes a
// request that scans); S3 stops on it or on P1 (its level request waiting: s3_p1_wait), L and A
// on S3's stop while the stages ahead of them are full. Each stage's stop is one LUT of P2's two
// flip-flops and two of its own, registered from the stages as they will be (s3_p1_wait,
// l_p1_wait, a_p1_wait: the request in S3 waits on P1, with L, and A, full behind it; l_s3_full,
// a_s3_full: L and S3, and A too, hold events), and so are price_levels' handshakes: the stops
// are side by side, not one behind the other, and the stall reaches the enables of every stage
// and of the order store's trackers across the chip in one LUT. price_levels' RAMs read on a
// flip-flop set a cycle ahead from the forecast of S3's stop (s3_stops_next: exact but for a scan
// that a request entering S4 starts).
reg  s3_p1_wait, l_p1_wait, a_p1_wait, l_s3_full, a_s3_full;
// price_levels' handshakes the same way: P1 may be taken (s3_go: S3's request, P1 ready), P0's
// request may move to P1 (l_go: L's request, S3 not waiting on P1; l_level_s3: with S3 full)
reg  s3_go, l_go, l_level_s3;
wire s4_stops = lv_waits;  // P2 holds S4's request, not yet done; S5 always leaves (out_claims)
wire s3_stops = s3_p1_wait || (s3_valid && s4_stops);
wire l_stops  = l_p1_wait || (l_s3_full && s4_stops);
wire a_stops  = a_p1_wait || (a_s3_full && s4_stops);
wire s4_adv   = s4_valid && !s4_stops;
wire s4_ready = !s4_stops;
wire s3_adv   = s3_valid && !s3_stops;
wire s3_ready = !s3_stops;
wire l_adv    = l_valid && !s3_stops;
wire l_ready  = !l_stops;
wire a_ready  = !a_stops;
wire a_adv    = a_valid && !l_stops;
wire s2_adv   = s2_valid && !w_valid;
wire a_valid_next  = a_ready ? w_valid || s2_adv : a_valid;
wire l_valid_next  = l_ready ? a_valid : l_valid;
wire s3_valid_next = s3_ready ? l_adv : s3_valid;
wire s3_level_next = s3_ready ? l_adv && l_level : s3_level;
wire l_level_next  = l_ready ? a_word[L_LEVEL] : l_level;
wire s3_p1_wait_next = s3_level_next && !lv_cmp_ready_next;  // (s3_level only with s3_valid)
wire cmp_take = s3_go && !s4_stops;                      // s3_adv && s3_level
wire rd_take  = l_go && !(l_level_s3 && s4_stops);       // l_adv && l_level
wire s3_stops_next = s3_p1_wait_next || (s3_valid_next && lv_waits_next);
wire s2_ready = !s2_valid || s2_adv;
wire s1_adv   = s1_valid && (!s1_find || (os_find_valid && !os_s1_blocked)) && s2_ready;
wire s1_ready = !s1_valid || s1_adv;
wire r_adv    = r_valid && s1_ready;  // a stale read passes R: S1 reads again
wire r_find   = r_add || r_change;
assign r_ready = !r_valid || r_adv;
wire r_takes  = take_u2 || take_clear || (take_event && (in_find || (in_symbol && in_range)));
wire r_enters = r_ready && r_takes;

// a level request enters P0 as its event enters L, from A
wire lv_req = l_ready && a_word[L_LEVEL];

// ---- S5: the quote compared, the record sent ----

reg        s5_valid;
reg        s5_lv, s5_took, s5_compare, s5_stale_new;
reg        s5_u1, s5_u2, s5_u_same, s5_symbol, s5_clear;
reg [LOCATE_WIDTH-1:0]            s5_locate;
reg                               s5_sell;
reg [31:0]                        s5_stale_bit;  // the symbol's flag in its stale word, one-hot: no 32:1 select
reg [31:0]                        s5_stale_word; // its stale word, registered as S4 leaves
// the quote last sent, registered as S4 leaves: the side the event touched and the other side
reg [31:0]                        s5_side_price, s5_other_price;
reg [63:0]                        s5_side_size, s5_other_size;

// status_stale_symbols follows S5 three cycles behind: the flag raised or the flags a clear took
// off, as read (per 4 flags); then their count (two's complement); then the 32-bit add. So the
// stale word's read, a popcount and a carry chain are never in one path.
reg        stale_raised;
reg [23:0] stale_cleared;  // eight 3-bit counts
reg [6:0]  stale_delta;

// a U's remove, as its record needs it: how it left the side's levels
reg        u_touched, u_depth_changed;
reg [31:0] u_top_price;
reg [63:0] u_top_shares;
reg [DEPTH_BITS-1:0] u_depth_levels;

order_store #(
    .BUCKET_BITS(ORDER_BUCKET_BITS), .WAYS(ORDER_WAYS), .LOCATE_WIDTH(LOCATE_WIDTH),
    .SLOT_WIDTH(REF_WIDTH), .ULTRA_RAM(ULTRA_RAM)
) order_store_inst (
    .clk(clk), .rst(rst),
    .find_ready(os_find_ready), .r_open(r_ready), .op_find(s0_find), .op_ref(os_find_ref),
    .op_hash0(os_find_hash0), .op_hash1(os_find_hash1), .r_advance(r_adv && r_find),
    .find_valid(os_find_valid), .find_hit(os_hit), .find_free(os_free), .find_entry(os_entry),
    .s1_shares(s1_shares), .find_fewer(os_fewer), .find_no_more(os_no_more),
    .s1_blocked(os_s1_blocked), .s1_advance(s1_adv && s1_find),
    .s2_advance(s2_adv && s2_find), .s2_deletes(reduce && removes_all),
    .a_ready(a_ready), .l_ready(l_ready), .s3_ready(s3_ready), .s4_ready(s4_ready),
    .op_write((s4_add && lv_ok) || s4_reduce), .op_write_valid(s4_keeps),
    .op_entry(s4_add ? {lv_slot, s4_shares, s4_price, s4_sell, s4_locate}
                     : {s4_slot, s4_left, s4_price, s4_sell, s4_locate}),
    .live_orders(status_live_orders)
);

price_levels #(
    .MAX_SYMBOLS(MAX_SYMBOLS), .LEVELS(LEVELS), .TOP_N(TOP_N),
    .SIZE_WIDTH(BBO_LEVEL_SIZE_WIDTH), .COUNT_WIDTH(BBO_LEVEL_ORDERS_WIDTH),
    .ULTRA_RAM(ULTRA_RAM), .HEAD_ULTRA(HEAD_ULTRA_RAM), .BLOCK_LEVELS(BLOCK_LEVELS), .LEVEL_BLOCKS(LEVEL_BLOCKS),
    .LEVEL_SLICE(LEVEL_RAM_SLICE)
) price_levels_inst (
    .clk(clk), .rst(rst),
    .req_ready(lv_ready), .p0_stays_next(s3_stops_next), .req_valid(lv_req),
    .req_book(a_word[L_BOOK +: LOCATE_WIDTH+1]), .req_slot(a_word[L_SLOT +: REF_WIDTH]),
    .req_price(a_word[L_PRICE +: REC_PRICE_WIDTH]),
    .p0_add(l_add), .p0_book({l_locate, l_sell}), .p0_price(l_price), .p0_shares(l_req_shares),
    .p0_ref(l_slot), .p0_remove(l_removes_all), .rd_take(rd_take),
    .cmp_ready(lv_cmp_ready), .cmp_ready_next(lv_cmp_ready_next), .cmp_take(cmp_take),
    .waits(lv_waits), .waits_next(lv_waits_next), .dec_ok(lv_ok), .dec_slot(lv_slot),
    .resp_top_price(lv_top_price), .resp_top_shares(lv_top_shares),
    .resp_levels(lv_levels), .resp_levels_changed(lv_levels_changed),
    .stat_scan(stat_level_scan), .status_free_blocks(lv_free_blocks)
);

// ---- per-symbol memories: the quote last sent, the stale flags, the symbol names ----
// The quote and the stale word are read as L leaves and registered as S3 and S4 do (S5's writes
// in between forwarded), so nothing follows their RAMs' outputs; both are written as S5 leaves. The
// stale flags have a copy for the CSR window's read port. After rst all are cleared, one word per cycle.

wire clear_sweep = !cleared && !clear_index[LOCATE_WIDTH];
wire [QUOTE_WIDTH-1:0] bbo_rd;
wire [31:0] stale_rd;

// the side the event touched: its new best level, and its best DEPTH_OUT levels if they changed
wire        lv_depth = (lv_levels_changed & DEPTH_MASK) != 0;
// only the low DEPTH_OUT levels are sent; DEPTH_BITS is at most CACHE_BITS + 1
wire [CACHE_BITS:0] lv_levels_wide = {1'b0, lv_levels};
wire        touched_now    = s5_took || (s5_u2 && u_touched);
wire [31:0] top_price_now  = s5_took ? lv_top_price : u_top_price;
wire [63:0] top_shares_now = s5_took ? lv_top_shares : u_top_shares;
wire        depth_changed_now = s5_u2 && s5_took && s5_u_same ? 1'b0  // the book is as before
                              : (s5_u2 && u_depth_changed) || (s5_lv && lv_depth);
wire [DEPTH_BITS-1:0] depth_levels_now = s5_lv ? lv_levels_wide[DEPTH_BITS-1:0] : u_depth_levels;
wire depth_emit = DEPTH_OUT != 0 && depth_changed_now;

// the symbol's quote after the event: the side it touched gets that side's new best level
wire [31:0] side_price_next = touched_now ? top_price_now : s5_side_price;
wire [63:0] side_size_next  = touched_now ? top_shares_now : s5_side_size;
wire [QUOTE_WIDTH-1:0] bbo_next = s5_sell ? {side_size_next, s5_other_size, side_price_next, s5_other_price}
                                          : {s5_other_size, side_size_next, s5_other_price, side_price_next};
wire was_stale = (s5_stale_word & s5_stale_bit) != 0;
// Whether the quote changed: the touched side's sent fields, registers, against both candidates
// for its new best level, side by side, then one chosen. The RAM's write-first select and the
// choice of side are in S4, not in front of the compare.
wire lv_moves = lv_top_price != s5_side_price || lv_top_shares != s5_side_size;
wire u_moves  = u_top_price != s5_side_price || u_top_shares != s5_side_size;
wire bbo_changed = touched_now && (s5_took ? lv_moves : u_moves);
wire became_stale = s5_compare && s5_stale_new && !was_stale;
wire bbo_emit = s5_compare && (bbo_changed || became_stale || depth_emit);
wire [7:0] depth_flags = !depth_emit ? 8'h00
                       : BBO_FLAG_DEPTH | (s5_sell ? BBO_FLAG_ASK : 8'h00)
                         | (bbo_changed ? 8'h00 : BBO_FLAG_DEPTH_ONLY);

// {depth, BBO fields from ask_size down to kind} cut to OUT_WIDTH: the spare bit of depth_levels falls off
wire [OUT_WIDTH:0] bbo_record_spare = {
    depth_emit ? depth_levels_now : {DEPTH_BITS{1'b0}},
    bbo_next, s5_seq, s5_timestamp, {{BBO_STOCK_LOCATE_WIDTH-LOCATE_WIDTH{1'b0}}, s5_locate},
    ((was_stale || s5_stale_new) ? BBO_FLAG_STALE : 8'h00) | depth_flags, BBO_KIND_BBO
};
wire [OUT_WIDTH:0] symbol_record_spare = {
    {DEPTH_BITS{1'b0}}, {BBO_ASK_SIZE_WIDTH{1'b0}},
    s5_new_ref,  // bid_size: the symbol name
    {BBO_ASK_PRICE_WIDTH{1'b0}}, {BBO_BID_PRICE_WIDTH{1'b0}},
    s5_seq, s5_timestamp, {{BBO_STOCK_LOCATE_WIDTH-LOCATE_WIDTH{1'b0}}, s5_locate},
    {BBO_FLAGS_WIDTH{1'b0}}, BBO_KIND_SYMBOL
};

// Records wait in a FIFO for m_axis, so a sink that pauses now and then does not stop the stages
// at once. S0 takes an event only while the FIFO is sure to have a slot for its record:
// out_claims counts the records waiting and one for each event in R to S5, so S5 always leaves
// and the stall into the stages starts at S4 (the sink's pause stops S0, not the stages). A
// claim comes back a cycle after its record leaves on m_axis or its event leaves S5 without one
// (both registered: no count follows the quote compare or the sink's ready). 16 slots: the
// stages hold up to 10 events, and an ECP5 LUT RAM is 16 deep.
localparam OUT_DEPTH = 16;
reg [OUT_WIDTH-1:0] out_fifo [0:OUT_DEPTH-1];
reg [4:0] out_head, out_tail;
reg [4:0] out_claims;
reg       out_popped, out_unsent;  // a record left on m_axis; S5's event left without one
wire [4:0] out_claims_kept = out_claims - out_popped - out_unsent;
wire [4:0] out_claims_more = out_claims_kept + 1'b1;  // with an event entering R: chosen last
assign m_axis_tvalid = out_head != out_tail;
assign m_axis_tdata = out_fifo[out_head[3:0]];
wire s5_sends = s5_symbol || bbo_emit;
wire s5_leave = s5_valid;
// a clear is answered once applied, so a read of the stale window after it sees it
assign stale_clear_ready = s5_leave && s5_clear;

// the quote is written back whether or not it changed (unchanged, it is the word read): the
// write enable does not wait for the compare
wire                    quote_write = s5_leave && s5_compare;  // S5's event writes its quote (see s4_quote)
wire                    bbo_we    = clear_sweep || quote_write;
wire [LOCATE_WIDTH-1:0] bbo_waddr = clear_sweep ? clear_index[LOCATE_WIDTH-1:0] : s5_locate;
wire [QUOTE_WIDTH-1:0]  bbo_wdata = clear_sweep ? {QUOTE_WIDTH{1'b0}} : bbo_next;

wire                    stale_write = s5_leave && (became_stale || s5_clear);  // S5's event writes its stale word
wire                    stale_we    = clear_sweep || stale_write;
wire [LOCATE_WIDTH-6:0] stale_waddr = clear_sweep ? clear_index[LOCATE_WIDTH-1:5] : s5_locate[LOCATE_WIDTH-1:5];
wire [31:0]             stale_wdata = clear_sweep ? 32'd0
                                    : s5_clear ? s5_stale_word & ~s5_mask
                                    : s5_stale_word | s5_stale_bit;

wire                    symbol_we    = clear_sweep || (s5_leave && s5_symbol);
wire [LOCATE_WIDTH-1:0] symbol_waddr = clear_sweep ? clear_index[LOCATE_WIDTH-1:0] : s5_locate;
wire [63:0]             symbol_wdata = clear_sweep ? 64'd0 : s5_new_ref;

// The quote and the stale word as the event in S4 sees them. Both are read as the event leaves
// L (the RAM reads the word written in that cycle), wait in the RAMs' output registers while it
// is in S3 (the next read is the next event's, as this one leaves S3) and are copied into
// flip-flops with nothing in front as it leaves S3. A write by S5 after the read, while the event
// is in S3 or S4, is kept and used instead: the latest such write is the word as it stands.
// Whether S5 writes the quote of S3's and S4's symbol (quote_hit3, quote_hit4) is registered as
// the events move into those stages, so the choice of the word, a quote's width of multiplexers,
// is not behind a compare.
reg                    s3_quote_fwd, s4_quote_fwd;
reg [QUOTE_WIDTH-1:0]  s3_quote_written, s4_quote_written, s4_quote_rd;
reg                    quote_hit3, quote_hit4;  // quote_write && s5_locate == s3_locate, s4_locate
wire [QUOTE_WIDTH-1:0] s4_quote = quote_hit4 ? bbo_next : s4_quote_fwd ? s4_quote_written : s4_quote_rd;

sdp_ram #(.WIDTH(QUOTE_WIDTH), .DEPTH(MAX_SYMBOLS), .WRITE_FIRST(1), .ADDR_WIDTH(LOCATE_WIDTH)) bbo_ram (
    .clk(clk), .we(bbo_we), .waddr(bbo_waddr), .wdata(bbo_wdata),
    .re(l_adv), .raddr(l_locate), .rdata(bbo_rd)
);

reg                    s3_stale_fwd, s4_stale_fwd;
reg [31:0]             s3_stale_written, s4_stale_written, s4_stale_rd;
wire                   stale_hit3 = stale_write && s5_locate[LOCATE_WIDTH-1:5] == s3_locate[LOCATE_WIDTH-1:5];
wire                   stale_hit4 = stale_write && s5_locate[LOCATE_WIDTH-1:5] == s4_locate[LOCATE_WIDTH-1:5];
wire [31:0]            s4_stale_word = stale_hit4 ? stale_wdata : s4_stale_fwd ? s4_stale_written : s4_stale_rd;

sdp_ram #(.WIDTH(32), .DEPTH(MAX_SYMBOLS/32), .WRITE_FIRST(1), .ADDR_WIDTH(LOCATE_WIDTH-5)) stale_ram (
    .clk(clk), .we(stale_we), .waddr(stale_waddr), .wdata(stale_wdata),
    .re(l_adv), .raddr(l_locate[LOCATE_WIDTH-1:5]), .rdata(stale_rd)
);

sdp_ram #(.WIDTH(32), .DEPTH(MAX_SYMBOLS/32), .ADDR_WIDTH(LOCATE_WIDTH-5)) stale_csr_ram (
    .clk(clk), .we(stale_we), .waddr(stale_waddr), .wdata(stale_wdata),
    .re(1'b1), .raddr(csr_stale_addr), .rdata(csr_stale_data)
);

reg [63:0] symbol_ram [0:MAX_SYMBOLS-1];
always @(posedge clk) begin
    if (symbol_we)
        symbol_ram[symbol_waddr] <= symbol_wdata;
    csr_symbol_data <= symbol_ram[csr_symbol_addr];
end

// ---- the stages' registers ----

integer k;
always @(posedge clk) begin
    if (m_axis_tvalid && m_axis_tready)
        out_head <= out_head + 1'b1;
    out_popped <= m_axis_tvalid && m_axis_tready;
    out_unsent <= s5_leave && !s5_sends;
    out_claims <= r_enters ? out_claims_more : out_claims_kept;
    out_open <= r_enters ? out_claims_kept < OUT_DEPTH - 1 : out_claims_kept < OUT_DEPTH;
    stat_event <= take_event;
    stat_unknown_ref <= 1'b0;
    stat_duplicate_ref <= 1'b0;
    stat_overfill <= 1'b0;
    stat_zero_share_add <= 1'b0;
    stat_order_store_full <= 1'b0;
    stat_level_store_full <= 1'b0;
    stat_locate_range <= take_event && (in_add || in_symbol) && !in_range;
    stat_bbo_update <= 1'b0;
    stat_symbol_update <= 1'b0;
    stat_stale_raised <= 1'b0;

    if (!cleared) begin
        if (!clear_index[LOCATE_WIDTH])
            clear_index <= clear_index + 1'b1;
        else if (os_find_ready && lv_ready)
            cleared <= 1'b1;
    end

    // S0 -> R
    if (take_u2)
        u2_pending <= 1'b0;
    if (hash_free) begin
        hash_valid <= cleared && s_axis_tvalid;
        hash_data <= s_axis_tdata;
        hash_parts0 <= order_hash_parts(hash_next_key, ORDER_HASH0);
        hash_parts1 <= order_hash_parts(hash_next_key, ORDER_HASH1);
        hash_new_parts0 <= order_hash_parts(hash_next_new_key, ORDER_HASH0);
        hash_new_parts1 <= order_hash_parts(hash_next_new_key, ORDER_HASH1);
    end
    if (in_push) begin
        in_queue[in_wr] <= hash_entry;
        if (in_wr)
            in_hashes1 <= hash_sums;
        else
            in_hashes0 <= hash_sums;
        in_wr <= !in_wr;
    end
    if (take_event)
        in_rd <= !in_rd;
    in_count <= in_count_next;
    in_valid <= in_count_next != 0;
    in_room <= in_count_next != 2;
    if (take_clear)
        clear_in_flight <= 1'b1;
    if (stale_clear_ready)
        clear_in_flight <= 1'b0;
    if (take_event && in_update)
        u2_pending <= 1'b1;
    {os_find_hash0, os_find_hash1} <= s0_open ? open_hashes : held_hashes;
    // u2_* follow the U at the input's head until its remove is taken (u2_pending): their enables
    // wait on registers, not on S0's take
    if (!u2_pending && in_update) begin
        u2_ref <= in_data[REC_NEW_ORDER_REF_LSB +: REC_NEW_ORDER_REF_WIDTH];
        u2_hash0 <= in_new_hash0;
        u2_hash1 <= in_new_hash1;
        u2_shares <= in_data[REC_SHARES_LSB +: REC_SHARES_WIDTH];
        u2_price <= in_data[REC_PRICE_LSB +: REC_PRICE_WIDTH];
        u2_seq <= in_data[REC_SEQ_LSB +: REC_SEQ_WIDTH];
        u2_timestamp <= in_data[REC_TIMESTAMP_LSB +: REC_TIMESTAMP_WIDTH];
    end
    fields_queue[fields_tail] <= {
        in_data[REC_NEW_ORDER_REF_LSB +: REC_NEW_ORDER_REF_WIDTH],
        u2_pending ? u2_seq : in_data[REC_SEQ_LSB +: REC_SEQ_WIDTH],
        u2_pending ? u2_timestamp : in_data[REC_TIMESTAMP_LSB +: REC_TIMESTAMP_WIDTH],
        stale_clear_mask
    };
    if (r_enters)
        fields_tail <= fields_tail + 1'b1;
    if (s5_leave)
        fields_head <= fields_head + 1'b1;
    if (r_ready) begin
        r_valid <= r_takes;
        r_add <= take_u2 || (take_event && in_add);
        r_change <= take_event && in_change;
        r_whole <= take_event && in_whole;
        r_u1 <= take_event && in_update;
        r_u2 <= take_u2;
        r_symbol <= take_event && in_symbol;
        r_clear <= take_clear;
        r_locate <= clear_offered ? {stale_clear_word, 5'd0} : in_locate[LOCATE_WIDTH-1:0];
        r_sell <= in_data[REC_SIDE_LSB +: REC_SIDE_WIDTH] == "S";
        r_shares <= u2_pending ? u2_shares : in_data[REC_SHARES_LSB +: REC_SHARES_WIDTH];
        r_price <= u2_pending ? u2_price : in_data[REC_PRICE_LSB +: REC_PRICE_WIDTH];
    end

    // R -> S1
    if (s1_ready) begin
        s1_valid <= r_adv;
        s1_add <= r_add;
        s1_change <= r_change;
        s1_whole <= r_whole;
        s1_u1 <= r_u1;
        s1_u2 <= r_u2;
        s1_symbol <= r_symbol;
        s1_clear <= r_clear;
        s1_locate <= r_locate;
        s1_sell <= r_sell;
        s1_shares <= r_shares;
        s1_price <= r_price;
    end

    // S1 -> S2
    if (s2_ready) begin
        s2_valid <= s1_adv;
        s2_add <= s1_add;
        s2_change <= s1_change;
        s2_whole <= s1_whole;
        s2_u1 <= s1_u1;
        s2_u2 <= s1_u2;
        s2_symbol <= s1_symbol;
        s2_clear <= s1_clear;
        // a U's add right behind its remove, which leaves S2 now: the remove's order as found
        s2_locate <= !s1_u2 ? s1_locate : s2_valid && s2_u1 ? found_locate : u_locate;
        s2_sell <= !s1_u2 ? s1_sell : s2_valid && s2_u1 ? found_sell : u_sell;
        s2_shares <= s1_shares;
        s2_price <= s1_price;
    end

    // S2 -> S3
    if (s2_adv) begin
        if (s2_change)
            stat_unknown_ref <= !os_hit;
        if (s2_add && s2_alive) begin
            stat_duplicate_ref <= os_hit;
            stat_zero_share_add <= !os_hit && s2_shares == 0;
            stat_order_store_full <= add_refused;
        end
        if (reduce)
            stat_overfill <= over;
        if (s2_u1) begin
            u_found <= os_hit;
            u_locate <= found_locate;
            u_sell <= found_sell;
            u_same <= s2_price == found_price && s2_shares == found_shares;
        end
    end
    // S2 -> W, S2 or W -> A, A -> L
    if (!w_valid)
        w_word <= s2_word;
    if (a_ready)
        w_valid <= 1'b0;
    else if (s2_adv)
        w_valid <= 1'b1;
    if (a_ready) begin
        a_valid <= w_valid || s2_adv;
        a_word <= a_next;
    end
    if (l_ready) begin
        l_valid <= a_valid;
        l_word <= a_word;
    end
    // the stops' flip-flops, from the stages as they will be (see s4_stops)
    s3_p1_wait <= s3_p1_wait_next;
    l_p1_wait <= l_valid_next && s3_p1_wait_next;
    a_p1_wait <= a_valid_next && l_valid_next && s3_p1_wait_next;
    l_s3_full <= l_valid_next && s3_valid_next;
    a_s3_full <= a_valid_next && l_valid_next && s3_valid_next;
    s3_go <= s3_level_next && lv_cmp_ready_next;
    l_go <= l_level_next && !s3_p1_wait_next;
    l_level_s3 <= l_level_next && s3_valid_next;

    // L -> S3
    if (s3_ready) begin
        s3_valid <= l_adv;
        s3_level <= l_adv && l_level;
        s3_add <= l_add;
        s3_reduce <= l_reduce;
        s3_compare <= l_compare;
        s3_stale_new <= l_stale_new;
        s3_u1 <= l_u1;
        s3_u2 <= l_u2;
        s3_u_same <= l_u_same;
        s3_symbol <= l_symbol;
        s3_clear <= l_clear;
        s3_locate <= l_locate;
        s3_sell <= l_sell;
        s3_shares <= l_shares;
        s3_price <= l_price;
        s3_had <= l_had;
        s3_removes_all <= l_removes_all;
        s3_slot <= l_slot;
    end

    // S3 -> S4
    if (s4_ready) begin
        s4_valid <= s3_adv;
        s4_level <= s3_adv && s3_level;
        s4_add <= s3_add;
        s4_reduce <= s3_reduce;
        s4_compare <= s3_compare;
        s4_stale_new <= s3_stale_new;
        s4_u1 <= s3_u1;
        s4_u2 <= s3_u2;
        s4_u_same <= s3_u_same;
        s4_symbol <= s3_symbol;
        s4_clear <= s3_clear;
        s4_locate <= s3_locate;
        s4_sell <= s3_sell;
        s4_shares <= s3_shares;
        s4_price <= s3_price;
        s4_left <= s3_removes_all ? 32'd0 : s3_had - s3_shares;
        s4_keeps <= s3_add || !s3_removes_all;
        s4_slot <= s3_slot;
    end
    // the quote and stale word read as L left: S5's writes since, kept (see bbo_ram)
    quote_hit3 <= s4_adv && s4_compare && (s3_ready ? l_locate : s3_locate) == s4_locate;
    quote_hit4 <= s4_adv && s4_compare && s3_locate == s4_locate;
    if (l_adv) begin
        s3_quote_fwd <= 1'b0;
        s3_stale_fwd <= 1'b0;
    end else begin
        if (quote_hit3)
            s3_quote_fwd <= 1'b1;
        if (stale_hit3)
            s3_stale_fwd <= 1'b1;
    end
    if (quote_hit3)
        s3_quote_written <= bbo_next;
    if (stale_hit3)
        s3_stale_written <= stale_wdata;
    if (s3_adv) begin
        s4_quote_rd <= bbo_rd;
        s4_quote_fwd <= s3_quote_fwd || quote_hit3;
        s4_quote_written <= quote_hit3 ? bbo_next : s3_quote_written;
        s4_stale_rd <= stale_rd;
        s4_stale_fwd <= s3_stale_fwd || stale_hit3;
        s4_stale_written <= stale_hit3 ? stale_wdata : s3_stale_written;
    end else begin
        if (quote_hit4) begin
            s4_quote_fwd <= 1'b1;
            s4_quote_written <= bbo_next;
        end
        if (stale_hit4) begin
            s4_stale_fwd <= 1'b1;
            s4_stale_written <= stale_wdata;
        end
    end

    // S4 -> S5
    if (s4_adv && s4_add && !lv_ok)
        stat_level_store_full <= 1'b1;
    // (S5 always leaves: its registers load every cycle)
    s5_valid <= s4_adv;
    s5_lv <= s4_level;
    s5_took <= s4_level && (s4_reduce || lv_ok);
    s5_compare <= s4_compare;
    s5_stale_new <= s4_stale_new || (s4_add && !lv_ok);
    s5_u1 <= s4_u1;
    s5_u2 <= s4_u2;
    s5_u_same <= s4_u_same;
    s5_symbol <= s4_symbol;
    s5_clear <= s4_clear;
    s5_locate <= s4_locate;
    s5_stale_bit <= 32'd1 << s4_locate[4:0];
    s5_stale_word <= s4_stale_word;
    s5_sell <= s4_sell;
    {s5_side_price, s5_other_price} <= s4_sell ? {s4_quote[QUOTE_ASK_PRICE +: 32], s4_quote[QUOTE_BID_PRICE +: 32]}
                                               : {s4_quote[QUOTE_BID_PRICE +: 32], s4_quote[QUOTE_ASK_PRICE +: 32]};
    {s5_side_size, s5_other_size} <= s4_sell ? {s4_quote[QUOTE_ASK_SIZE +: 64], s4_quote[QUOTE_BID_SIZE +: 64]}
                                             : {s4_quote[QUOTE_BID_SIZE +: 64], s4_quote[QUOTE_ASK_SIZE +: 64]};

    // S5 leaves
    if (s5_leave) begin
        if (s5_u1) begin
            u_touched <= s5_took;
            u_top_price <= lv_top_price;
            u_top_shares <= lv_top_shares;
            u_depth_changed <= lv_depth;
            u_depth_levels <= lv_levels_wide[DEPTH_BITS-1:0];
        end
        // the tail's slot is free whether or not a record is sent: written on leaving, kept by
        // moving the tail, so the quote compare reaches a pointer, not the record's 336 enables
        out_fifo[out_tail[3:0]] <= s5_symbol ? symbol_record_spare[OUT_WIDTH-1:0] : bbo_record_spare[OUT_WIDTH-1:0];
        if (s5_sends)
            out_tail <= out_tail + 1'b1;
        stat_symbol_update <= s5_symbol;
        stat_bbo_update <= bbo_emit;
        if (became_stale)
            stat_stale_raised <= 1'b1;
    end
    stale_raised <= s5_leave && became_stale;
    for (k = 0; k < 8; k = k + 1)
        stale_cleared[3*k +: 3] <= s5_leave && s5_clear ? ones4(s5_stale_word[4*k +: 4] & s5_mask[4*k +: 4]) : 3'd0;
    stale_delta <= {6'd0, stale_raised} - count_sum(stale_cleared);
    status_stale_symbols <= status_stale_symbols + {{25{stale_delta[6]}}, stale_delta};

    if (rst) begin
        cleared <= 1'b0;
        clear_index <= 0;
        u2_pending <= 1'b0;
        hash_valid <= 1'b0;
        in_wr <= 1'b0;
        in_rd <= 1'b0;
        in_count <= 2'd0;
        in_valid <= 1'b0;
        in_room <= 1'b1;
        clear_in_flight <= 1'b0;
        r_valid <= 1'b0;
        fields_tail <= 4'd0;
        fields_head <= 4'd0;
        s1_valid <= 1'b0;
        s2_valid <= 1'b0;
        w_valid <= 1'b0;
        a_valid <= 1'b0;
        l_valid <= 1'b0;
        s3_valid <= 1'b0;
        s3_level <= 1'b0;
        s3_p1_wait <= 1'b0;
        l_p1_wait <= 1'b0;
        a_p1_wait <= 1'b0;
        l_s3_full <= 1'b0;
        a_s3_full <= 1'b0;
        s3_go <= 1'b0;
        l_go <= 1'b0;
        l_level_s3 <= 1'b0;
        s4_valid <= 1'b0;
        s4_level <= 1'b0;
        s5_valid <= 1'b0;
        out_head <= 5'd0;
        out_tail <= 5'd0;
        out_claims <= 5'd0;
        out_popped <= 1'b0;
        out_unsent <= 1'b0;
        out_open <= 1'b1;
        status_stale_symbols <= 32'd0;
        stale_raised <= 1'b0;
        stale_cleared <= 24'd0;
        stale_delta <= 7'd0;
        stat_event <= 1'b0;
    end
end

function [2:0] ones4;
    input [3:0] bits;
    begin
        ones4 = {2'd0, bits[0]} + {2'd0, bits[1]} + {2'd0, bits[2]} + {2'd0, bits[3]};
    end
endfunction

function [6:0] count_sum;
    input [23:0] counts;
    integer n;
    begin
        count_sum = 0;
        for (n = 0; n < 8; n = n + 1)
            count_sum = count_sum + {4'd0, counts[3*n +: 3]};
    end
endfunction

endmodule
