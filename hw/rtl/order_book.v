// Order book: book-event records in (s_axis, one record per beat), BBO update
// records out (m_axis, one record per beat), for every symbol at once.
//
//   s_axis ─► order_store (ref -> order) ─► price_levels (levels, top-N) ─► BBO compare ─► m_axis
//
// A pipeline of four stages, an event entering each cycle while older ones are
// in flight, in feed order:
//   S0 accept   the order store reads the reference's buckets
//   S1 find     the order is known (or the add's room): the level request reads
//               its side's head word and level
//   S2 levels   price_levels decides; the order store is written as it leaves
//   S3 out      the symbol's quote (read as S2 left) compared, the record put in a
//               4-record FIFO in front of m_axis
// Each memory reads the word written in the same cycle (sdp_ram WRITE_FIRST), so
// an event sees every write of the events ahead of it without a stall: the head
// word and level of its side, its symbol's quote and stale word. The order store
// holds an event at S0 while one ahead of it, not yet written, shares a bucket
// (order_store find_ready); a level scan, an insert that moves orders and a full
// output FIFO hold the stages behind them. A U passes as two events: its remove
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
// cuckoo buckets and the stash full, or a new price on a side already holding LEVELS prices): the order is
// dropped, so the symbol's book can no longer be trusted, and every later record
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
    parameter ULTRA_RAM = 0,       // 1: order store and level array in UltraRAM (UltraScale+)
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

localparam LOCATE_WIDTH = $clog2(MAX_SYMBOLS);
localparam SLOT_WIDTH = $clog2(LEVELS);
localparam ENTRY_WIDTH = SLOT_WIDTH + 32 + 32 + 1 + LOCATE_WIDTH;  // order_store entry
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

// ---- S0: the event taken from s_axis, a U's add, or a stale-flag clear ----

wire [REC_KIND_WIDTH-1:0]         in_kind   = s_axis_tdata[REC_KIND_LSB +: REC_KIND_WIDTH];
wire [REC_STOCK_LOCATE_WIDTH-1:0] in_locate = s_axis_tdata[REC_STOCK_LOCATE_LSB +: REC_STOCK_LOCATE_WIDTH];
wire [REC_ORDER_REF_WIDTH-1:0]    in_ref    = s_axis_tdata[REC_ORDER_REF_LSB +: REC_ORDER_REF_WIDTH];
wire in_add    = in_kind == "A" || in_kind == "F";
wire in_change = in_kind == "E" || in_kind == "C" || in_kind == "X" || in_kind == "D" || in_kind == "U";
wire in_range  = in_locate < MAX_SYMBOLS;
wire in_find   = (in_add && in_range) || in_change;

reg [LOCATE_WIDTH:0] clear_index;
reg  cleared;         // the memories are cleared after rst
reg  u2_pending;      // a U's remove entered S1: its add enters next
reg  clear_in_flight; // a stale-flag clear was taken and has not yet been applied (S3)
reg [REC_NEW_ORDER_REF_WIDTH-1:0] u2_ref;
reg [REC_SHARES_WIDTH-1:0]        u2_shares;
reg [REC_PRICE_WIDTH-1:0]         u2_price;
reg [REC_SEQ_WIDTH-1:0]           u2_seq;
reg [REC_TIMESTAMP_WIDTH-1:0]     u2_timestamp;

wire os_find_ready, os_find_valid, os_hit, os_free, os_s1_blocked;
wire [ENTRY_WIDTH-1:0] os_entry;
wire s1_ready;
wire os_find_go = u2_pending ? 1'b1 : (!stale_clear_valid && s_axis_tvalid && in_find);
wire [63:0] os_find_ref = u2_pending ? u2_ref : in_ref;
wire s0_open = cleared && s1_ready && (os_find_ready || !os_find_go);
wire take_u2 = s0_open && u2_pending;
wire take_clear = s0_open && !u2_pending && stale_clear_valid && !clear_in_flight;
assign s_axis_tready = s0_open && !u2_pending && !stale_clear_valid;
wire take_event = s_axis_tready && s_axis_tvalid;
wire s0_find = take_u2 || (take_event && in_find);

// ---- S1: the order found, or the add's room ----

reg        s1_valid;
reg        s1_add;      // A/F, or a U's add (s1_u2)
reg        s1_change;   // E/C/X/D, or a U's remove (s1_u1)
reg        s1_u1, s1_u2, s1_symbol, s1_clear;
reg [REC_KIND_WIDTH-1:0]          s1_kind;
reg [LOCATE_WIDTH-1:0]            s1_locate;  // A/F and R: the event's; a clear: its word << 5
reg                               s1_sell;
reg [REC_SHARES_WIDTH-1:0]        s1_shares;
reg [REC_PRICE_WIDTH-1:0]         s1_price;
reg [REC_NEW_ORDER_REF_WIDTH-1:0] s1_new_ref;  // U: the new reference; R: the symbol name
reg [REC_SEQ_WIDTH-1:0]           s1_seq;
reg [REC_TIMESTAMP_WIDTH-1:0]     s1_timestamp;
reg [31:0]                        s1_mask;     // a clear's mask

// a U's remove, as its add needs it: the original's book, whether it was found, and whether
// the new order has the original's price and shares
reg                    u_found, u_sell, u_same;
reg [LOCATE_WIDTH-1:0] u_locate;

wire [LOCATE_WIDTH-1:0] found_locate = os_entry[0 +: LOCATE_WIDTH];
wire                    found_sell   = os_entry[LOCATE_WIDTH];
wire [31:0]             found_price  = os_entry[LOCATE_WIDTH+1 +: 32];
wire [31:0]             found_shares = os_entry[LOCATE_WIDTH+33 +: 32];
wire [SLOT_WIDTH-1:0]   found_slot   = os_entry[LOCATE_WIDTH+65 +: SLOT_WIDTH];
wire whole = s1_kind == "D" || s1_u1;
// One subtraction gives both the shares left and, by its borrow, the overfill: a compare
// ahead of the subtract would put two carry chains in series behind the order-store read.
wire [32:0] partial_left = {1'b0, found_shares} - {1'b0, s1_shares};
wire over = !whole && partial_left[32];
wire [31:0] take = whole || over ? found_shares : s1_shares;
wire [31:0] left = whole || over ? 32'd0 : partial_left[31:0];

wire s1_alive    = !s1_u2 || u_found;          // a U's add after a remove that found nothing: none
wire s1_find     = s1_add || s1_change;
wire add_places  = s1_add && s1_alive && !os_hit && s1_shares != 0 && os_free;
wire add_refused = s1_add && s1_alive && !os_hit && s1_shares != 0 && !os_free;
wire reduce      = s1_change && os_hit;
wire [LOCATE_WIDTH-1:0] book_locate = s1_u2 ? u_locate : s1_change ? found_locate : s1_locate;
wire                    book_sell   = s1_u2 ? u_sell : s1_change ? found_sell : s1_sell;

// ---- S2: the levels decide; the order store is written as the event leaves ----

reg        s2_valid;
reg        s2_find, s2_level, s2_add, s2_reduce, s2_compare, s2_stale_new;
reg        s2_u1, s2_u2, s2_u_same, s2_symbol, s2_clear;
reg [LOCATE_WIDTH-1:0]            s2_locate;
reg                               s2_sell;
reg [REC_SHARES_WIDTH-1:0]        s2_shares;
reg [REC_PRICE_WIDTH-1:0]         s2_price;
reg [31:0]                        s2_left;
reg [SLOT_WIDTH-1:0]              s2_slot;
reg [REC_NEW_ORDER_REF_WIDTH-1:0] s2_new_ref;
reg [REC_SEQ_WIDTH-1:0]           s2_seq;
reg [REC_TIMESTAMP_WIDTH-1:0]     s2_timestamp;
reg [31:0]                        s2_mask;

wire lv_ready, lv_done, lv_ok;
wire [SLOT_WIDTH-1:0] lv_slot;
wire [31:0] lv_top_price;
wire [63:0] lv_top_shares;
wire [CACHE_BITS-1:0] lv_levels;
wire [TOP_N-1:0] lv_levels_changed;

wire s3_ready;
wire s2_adv   = s2_valid && (!s2_level || lv_done) && s3_ready;
wire s2_ready = !s2_valid || s2_adv;
wire s1_adv   = s1_valid && (!s1_find || (os_find_valid && !os_s1_blocked)) && s2_ready;
assign s1_ready = !s1_valid || s1_adv;

wire lv_req = s1_adv && (add_places || reduce);

// ---- S3: the quote compared, the record sent ----

reg        s3_valid;
reg        s3_lv, s3_took, s3_compare, s3_stale_new;
reg        s3_u1, s3_u2, s3_u_same, s3_symbol, s3_clear;
reg [LOCATE_WIDTH-1:0]            s3_locate;
reg                               s3_sell;
reg [REC_NEW_ORDER_REF_WIDTH-1:0] s3_new_ref;
reg [REC_SEQ_WIDTH-1:0]           s3_seq;
reg [REC_TIMESTAMP_WIDTH-1:0]     s3_timestamp;
reg [31:0]                        s3_mask;

// a U's remove, as its record needs it: how it left the side's levels
reg        u_touched, u_depth_changed;
reg [31:0] u_top_price;
reg [63:0] u_top_shares;
reg [DEPTH_BITS-1:0] u_depth_levels;

order_store #(
    .BUCKET_BITS(ORDER_BUCKET_BITS), .WAYS(ORDER_WAYS), .LOCATE_WIDTH(LOCATE_WIDTH),
    .SLOT_WIDTH(SLOT_WIDTH), .ULTRA_RAM(ULTRA_RAM)
) order_store_inst (
    .clk(clk), .rst(rst),
    .find_ready(os_find_ready), .op_find(s0_find), .op_ref(os_find_ref),
    .find_valid(os_find_valid), .find_hit(os_hit), .find_free(os_free), .find_entry(os_entry),
    .s1_blocked(os_s1_blocked), .s1_advance(s1_adv && s1_find),
    .s2_leave(s2_adv && s2_find),
    .op_write((s2_add && lv_ok) || s2_reduce), .op_write_valid(s2_add || s2_left != 0),
    .op_entry(s2_add ? {lv_slot, s2_shares, s2_price, s2_sell, s2_locate}
                     : {s2_slot, s2_left, s2_price, s2_sell, s2_locate}),
    .live_orders(status_live_orders)
);

price_levels #(
    .MAX_SYMBOLS(MAX_SYMBOLS), .LEVELS(LEVELS), .TOP_N(TOP_N),
    .SIZE_WIDTH(BBO_LEVEL_SIZE_WIDTH), .COUNT_WIDTH(BBO_LEVEL_ORDERS_WIDTH),
    .ULTRA_RAM(ULTRA_RAM)
) price_levels_inst (
    .clk(clk), .rst(rst),
    .req_ready(lv_ready), .req_valid(lv_req), .req_add(s1_add), .req_book({book_locate, book_sell}),
    .req_price(s1_price), .req_shares(s1_add ? s1_shares : take), .req_slot(found_slot),
    .req_remove(left == 0),
    .done(lv_done), .dec_ok(lv_ok), .dec_slot(lv_slot), .ack(s2_adv && s2_level),
    .resp_top_price(lv_top_price), .resp_top_shares(lv_top_shares),
    .resp_levels(lv_levels), .resp_levels_changed(lv_levels_changed),
    .stat_scan(stat_level_scan)
);

// ---- per-symbol memories: the quote last sent, the stale flags, the symbol names ----
// The quote and the stale word are read as S2 leaves and written as S3 does; the stale flags
// have a copy for the CSR window's read port. After rst all are cleared, one word per cycle.

wire clear_sweep = !cleared && !clear_index[LOCATE_WIDTH];
wire [QUOTE_WIDTH-1:0] bbo_rd;
wire [31:0] stale_rd;

// the side the event touched: its new best level, and its best DEPTH_OUT levels if they changed
wire        lv_depth = (lv_levels_changed & DEPTH_MASK) != 0;
// only the low DEPTH_OUT levels are sent; DEPTH_BITS is at most CACHE_BITS + 1
wire [CACHE_BITS:0] lv_levels_wide = {1'b0, lv_levels};
wire        touched_now    = s3_took || (s3_u2 && u_touched);
wire [31:0] top_price_now  = s3_took ? lv_top_price : u_top_price;
wire [63:0] top_shares_now = s3_took ? lv_top_shares : u_top_shares;
wire        depth_changed_now = s3_u2 && s3_took && s3_u_same ? 1'b0  // the book is as before
                              : (s3_u2 && u_depth_changed) || (s3_lv && lv_depth);
wire [DEPTH_BITS-1:0] depth_levels_now = s3_lv ? lv_levels_wide[DEPTH_BITS-1:0] : u_depth_levels;
wire depth_emit = DEPTH_OUT != 0 && depth_changed_now;

// the symbol's quote after the event: the side it touched gets that side's new best level
wire [QUOTE_WIDTH-1:0] bbo_next = !touched_now ? bbo_rd
    : s3_sell ? {top_shares_now, bbo_rd[QUOTE_BID_SIZE +: BBO_BID_SIZE_WIDTH],
                 top_price_now, bbo_rd[QUOTE_BID_PRICE +: BBO_BID_PRICE_WIDTH]}
    : {bbo_rd[QUOTE_ASK_SIZE +: BBO_ASK_SIZE_WIDTH], top_shares_now,
       bbo_rd[QUOTE_ASK_PRICE +: BBO_ASK_PRICE_WIDTH], top_price_now};
wire was_stale = stale_rd[s3_locate[4:0]];
wire bbo_changed = bbo_next != bbo_rd;
wire became_stale = s3_compare && s3_stale_new && !was_stale;
wire bbo_emit = s3_compare && (bbo_changed || became_stale || depth_emit);
wire [7:0] depth_flags = !depth_emit ? 8'h00
                       : BBO_FLAG_DEPTH | (s3_sell ? BBO_FLAG_ASK : 8'h00)
                         | (bbo_changed ? 8'h00 : BBO_FLAG_DEPTH_ONLY);

// {depth, BBO fields from ask_size down to kind} cut to OUT_WIDTH: the spare bit of depth_levels falls off
wire [OUT_WIDTH:0] bbo_record_spare = {
    depth_emit ? depth_levels_now : {DEPTH_BITS{1'b0}},
    bbo_next, s3_seq, s3_timestamp, {{BBO_STOCK_LOCATE_WIDTH-LOCATE_WIDTH{1'b0}}, s3_locate},
    ((was_stale || s3_stale_new) ? BBO_FLAG_STALE : 8'h00) | depth_flags, BBO_KIND_BBO
};
wire [OUT_WIDTH:0] symbol_record_spare = {
    {DEPTH_BITS{1'b0}}, {BBO_ASK_SIZE_WIDTH{1'b0}},
    s3_new_ref,  // bid_size: the symbol name
    {BBO_ASK_PRICE_WIDTH{1'b0}}, {BBO_BID_PRICE_WIDTH{1'b0}},
    s3_seq, s3_timestamp, {{BBO_STOCK_LOCATE_WIDTH-LOCATE_WIDTH{1'b0}}, s3_locate},
    {BBO_FLAGS_WIDTH{1'b0}}, BBO_KIND_SYMBOL
};

// Records wait in a small FIFO for m_axis, so a sink that pauses now and then does not stop the
// stages at once.
localparam OUT_DEPTH = 4;
reg [OUT_WIDTH-1:0] out_fifo [0:OUT_DEPTH-1];
reg [1:0] out_head, out_tail;
reg [2:0] out_count;
assign m_axis_tvalid = out_count != 0;
assign m_axis_tdata = out_fifo[out_head];
wire out_free = out_count != OUT_DEPTH;
wire s3_sends = s3_symbol || bbo_emit;
// Leaving waits for FIFO room even when no record is sent: the stall then depends on registers
// only, not on the quote compare, so it does not lengthen the path into the stages behind.
wire s3_leave = s3_valid && out_free;
assign s3_ready = !s3_valid || s3_leave;
// a clear is answered once applied, so a read of the stale window after it sees it
assign stale_clear_ready = s3_leave && s3_clear;

wire                    bbo_we    = clear_sweep || (s3_leave && s3_compare && bbo_changed);
wire [LOCATE_WIDTH-1:0] bbo_waddr = clear_sweep ? clear_index[LOCATE_WIDTH-1:0] : s3_locate;
wire [QUOTE_WIDTH-1:0]  bbo_wdata = clear_sweep ? {QUOTE_WIDTH{1'b0}} : bbo_next;

wire                    stale_we    = clear_sweep || (s3_leave && (became_stale || s3_clear));
wire [LOCATE_WIDTH-6:0] stale_waddr = clear_sweep ? clear_index[LOCATE_WIDTH-1:5] : s3_locate[LOCATE_WIDTH-1:5];
wire [31:0]             stale_wdata = clear_sweep ? 32'd0
                                    : s3_clear ? stale_rd & ~s3_mask
                                    : stale_rd | (32'd1 << s3_locate[4:0]);

wire                    symbol_we    = clear_sweep || (s3_leave && s3_symbol);
wire [LOCATE_WIDTH-1:0] symbol_waddr = clear_sweep ? clear_index[LOCATE_WIDTH-1:0] : s3_locate;
wire [63:0]             symbol_wdata = clear_sweep ? 64'd0 : s3_new_ref;

sdp_ram #(.WIDTH(QUOTE_WIDTH), .DEPTH(MAX_SYMBOLS), .WRITE_FIRST(1), .ADDR_WIDTH(LOCATE_WIDTH)) bbo_ram (
    .clk(clk), .we(bbo_we), .waddr(bbo_waddr), .wdata(bbo_wdata),
    .re(s2_adv), .raddr(s2_locate), .rdata(bbo_rd)
);

sdp_ram #(.WIDTH(32), .DEPTH(MAX_SYMBOLS/32), .WRITE_FIRST(1), .ADDR_WIDTH(LOCATE_WIDTH-5)) stale_ram (
    .clk(clk), .we(stale_we), .waddr(stale_waddr), .wdata(stale_wdata),
    .re(s2_adv), .raddr(s2_locate[LOCATE_WIDTH-1:5]), .rdata(stale_rd)
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

always @(posedge clk) begin
    if (m_axis_tvalid && m_axis_tready)
        out_head <= out_head + 1'b1;
    out_count <= out_count + (s3_leave && s3_sends) - (m_axis_tvalid && m_axis_tready);
    stat_event <= take_event;
    stat_unknown_ref <= 1'b0;
    stat_duplicate_ref <= 1'b0;
    stat_overfill <= 1'b0;
    stat_zero_share_add <= 1'b0;
    stat_order_store_full <= 1'b0;
    stat_level_store_full <= 1'b0;
    stat_locate_range <= take_event && (in_add || in_kind == "R") && !in_range;
    stat_bbo_update <= 1'b0;
    stat_symbol_update <= 1'b0;
    stat_stale_raised <= 1'b0;

    if (!cleared) begin
        if (!clear_index[LOCATE_WIDTH])
            clear_index <= clear_index + 1'b1;
        else if (os_find_ready && lv_ready)
            cleared <= 1'b1;
    end

    // S0 -> S1
    if (take_u2)
        u2_pending <= 1'b0;
    if (take_clear)
        clear_in_flight <= 1'b1;
    if (stale_clear_ready)
        clear_in_flight <= 1'b0;
    if (take_event && in_kind == "U") begin
        u2_pending <= 1'b1;
        u2_ref <= s_axis_tdata[REC_NEW_ORDER_REF_LSB +: REC_NEW_ORDER_REF_WIDTH];
        u2_shares <= s_axis_tdata[REC_SHARES_LSB +: REC_SHARES_WIDTH];
        u2_price <= s_axis_tdata[REC_PRICE_LSB +: REC_PRICE_WIDTH];
        u2_seq <= s_axis_tdata[REC_SEQ_LSB +: REC_SEQ_WIDTH];
        u2_timestamp <= s_axis_tdata[REC_TIMESTAMP_LSB +: REC_TIMESTAMP_WIDTH];
    end
    if (s1_ready) begin
        s1_valid <= take_u2 || take_clear
                    || (take_event && (in_find || (in_kind == "R" && in_range)));
        s1_kind <= take_u2 ? "U" : in_kind;
        s1_add <= take_u2 || (take_event && in_add);
        s1_change <= take_event && in_change;
        s1_u1 <= take_event && in_kind == "U";
        s1_u2 <= take_u2;
        s1_symbol <= take_event && in_kind == "R";
        s1_clear <= take_clear;
        s1_locate <= take_clear ? {stale_clear_word, 5'd0} : in_locate[LOCATE_WIDTH-1:0];
        s1_sell <= s_axis_tdata[REC_SIDE_LSB +: REC_SIDE_WIDTH] == "S";
        s1_shares <= take_u2 ? u2_shares : s_axis_tdata[REC_SHARES_LSB +: REC_SHARES_WIDTH];
        s1_price <= take_u2 ? u2_price : s_axis_tdata[REC_PRICE_LSB +: REC_PRICE_WIDTH];
        s1_new_ref <= s_axis_tdata[REC_NEW_ORDER_REF_LSB +: REC_NEW_ORDER_REF_WIDTH];
        s1_seq <= take_u2 ? u2_seq : s_axis_tdata[REC_SEQ_LSB +: REC_SEQ_WIDTH];
        s1_timestamp <= take_u2 ? u2_timestamp : s_axis_tdata[REC_TIMESTAMP_LSB +: REC_TIMESTAMP_WIDTH];
        s1_mask <= stale_clear_mask;
    end

    // S1 -> S2
    if (s1_adv) begin
        if (s1_change)
            stat_unknown_ref <= !os_hit;
        if (s1_add && s1_alive) begin
            stat_duplicate_ref <= os_hit;
            stat_zero_share_add <= !os_hit && s1_shares == 0;
            stat_order_store_full <= add_refused;
        end
        if (reduce)
            stat_overfill <= over;
        if (s1_u1) begin
            u_found <= os_hit;
            u_locate <= found_locate;
            u_sell <= found_sell;
            u_same <= s1_price == found_price && s1_shares == found_shares;
        end
    end
    if (s2_ready) begin
        s2_valid <= s1_adv;
        s2_find <= s1_adv && s1_find;
        s2_level <= lv_req;
        s2_add <= add_places;
        s2_reduce <= reduce;
        s2_compare <= (s1_add && s1_alive) || (reduce && !s1_u1);
        s2_stale_new <= add_refused;
        s2_u1 <= s1_u1;
        s2_u2 <= s1_u2;
        s2_u_same <= u_same;
        s2_symbol <= s1_symbol;
        s2_clear <= s1_clear;
        s2_locate <= s1_clear ? s1_locate : book_locate;
        s2_sell <= book_sell;
        s2_shares <= s1_shares;
        s2_price <= s1_change ? found_price : s1_price;
        s2_left <= left;
        s2_slot <= found_slot;
        s2_new_ref <= s1_new_ref;
        s2_seq <= s1_seq;
        s2_timestamp <= s1_timestamp;
        s2_mask <= s1_mask;
    end

    // S2 -> S3
    if (s2_adv && s2_add && !lv_ok)
        stat_level_store_full <= 1'b1;
    if (s3_ready) begin
        s3_valid <= s2_adv;
        s3_lv <= s2_level;
        s3_took <= s2_level && (s2_reduce || lv_ok);
        s3_compare <= s2_compare;
        s3_stale_new <= s2_stale_new || (s2_add && !lv_ok);
        s3_u1 <= s2_u1;
        s3_u2 <= s2_u2;
        s3_u_same <= s2_u_same;
        s3_symbol <= s2_symbol;
        s3_clear <= s2_clear;
        s3_locate <= s2_locate;
        s3_sell <= s2_sell;
        s3_new_ref <= s2_new_ref;
        s3_seq <= s2_seq;
        s3_timestamp <= s2_timestamp;
        s3_mask <= s2_mask;
    end

    // S3 leaves
    if (s3_leave) begin
        if (s3_u1) begin
            u_touched <= s3_took;
            u_top_price <= lv_top_price;
            u_top_shares <= lv_top_shares;
            u_depth_changed <= lv_depth;
            u_depth_levels <= lv_levels_wide[DEPTH_BITS-1:0];
        end
        if (s3_sends) begin
            out_fifo[out_tail] <= s3_symbol ? symbol_record_spare[OUT_WIDTH-1:0] : bbo_record_spare[OUT_WIDTH-1:0];
            out_tail <= out_tail + 1'b1;
        end
        stat_symbol_update <= s3_symbol;
        stat_bbo_update <= bbo_emit;
        if (became_stale) begin
            status_stale_symbols <= status_stale_symbols + 1'b1;
            stat_stale_raised <= 1'b1;
        end
        if (s3_clear)
            status_stale_symbols <= status_stale_symbols - {26'd0, popcount(stale_rd & s3_mask)};
    end

    if (rst) begin
        cleared <= 1'b0;
        clear_index <= 0;
        u2_pending <= 1'b0;
        clear_in_flight <= 1'b0;
        s1_valid <= 1'b0;
        s2_valid <= 1'b0;
        s3_valid <= 1'b0;
        out_head <= 2'd0;
        out_tail <= 2'd0;
        out_count <= 3'd0;
        status_stale_symbols <= 32'd0;
        stat_event <= 1'b0;
    end
end

function [5:0] popcount;
    input [31:0] bits;
    integer k;
    begin
        popcount = 0;
        for (k = 0; k < 32; k = k + 1)
            popcount = popcount + bits[k];
    end
endfunction

endmodule
