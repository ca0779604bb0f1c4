// Order book: book-event records in (s_axis, one record per beat), BBO update
// records out (m_axis, one record per beat), for every symbol at once.
//
//   s_axis ─► order_store (ref -> order) ─► price_levels (levels, top-N) ─► BBO compare ─► m_axis
//
// One event at a time, in feed order. Book semantics are the software books'
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
// word, second port for the CSR window) and the symbol names (second port for
// the CSR window). All are cleared after rst; s_axis_tready is low until then.

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

    output reg  [OUT_WIDTH-1:0]     m_axis_tdata,
    output reg                      m_axis_tvalid,
    input  wire                     m_axis_tready,
    output wire                     m_axis_tlast,

    // stale flags: clear the 1 bits of mask in word stale_clear_word
    input  wire                     stale_clear_valid,
    output wire                     stale_clear_ready,
    input  wire [LOCATE_WIDTH-6:0]  stale_clear_word,
    input  wire [31:0]              stale_clear_mask,
    // CSR read ports, data one cycle after the address
    input  wire [LOCATE_WIDTH-6:0]  csr_stale_addr,
    output reg  [31:0]              csr_stale_data,
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

// ---- the event's fields ----

wire [REC_KIND_WIDTH-1:0]         in_kind   = s_axis_tdata[REC_KIND_LSB +: REC_KIND_WIDTH];
wire [REC_STOCK_LOCATE_WIDTH-1:0] in_locate = s_axis_tdata[REC_STOCK_LOCATE_LSB +: REC_STOCK_LOCATE_WIDTH];
wire [REC_ORDER_REF_WIDTH-1:0]    in_ref    = s_axis_tdata[REC_ORDER_REF_LSB +: REC_ORDER_REF_WIDTH];
wire in_add    = in_kind == "A" || in_kind == "F";
wire in_change = in_kind == "E" || in_kind == "C" || in_kind == "X" || in_kind == "D" || in_kind == "U";
wire in_range  = in_locate < MAX_SYMBOLS;

reg [REC_KIND_WIDTH-1:0]          ev_kind;
reg [REC_TIMESTAMP_WIDTH-1:0]     ev_timestamp;
reg [REC_SEQ_WIDTH-1:0]           ev_seq;
reg [REC_NEW_ORDER_REF_WIDTH-1:0] ev_new_ref;
reg [REC_SHARES_WIDTH-1:0]        ev_shares;
reg [REC_PRICE_WIDTH-1:0]         ev_price;
reg        ev_sell;  // side of the order being added (A/F: the event's; U: the original's)
reg [LOCATE_WIDTH-1:0] ev_locate;  // locate whose book changes

// ---- per-symbol memories ----

reg [QUOTE_WIDTH-1:0] bbo_ram    [0:MAX_SYMBOLS-1];
reg [31:0]            stale_ram  [0:MAX_SYMBOLS/32-1];
reg [63:0]            symbol_ram [0:MAX_SYMBOLS-1];
reg [QUOTE_WIDTH-1:0] bbo_rd;
reg [31:0]            stale_rd;

// CSR read ports; the engine's ports are below, after the state machine's signals.
always @(posedge clk) begin
    csr_stale_data <= stale_ram[csr_stale_addr];
    csr_symbol_data <= symbol_ram[csr_symbol_addr];
end

// ---- the two stores ----

localparam [3:0] S_CLEAR = 4'd0, S_IDLE = 4'd1, S_ADD_FIND = 4'd2, S_ADD_LEVEL = 4'd3,
                 S_REF_FIND = 4'd4, S_REDUCE_LEVEL = 4'd5, S_COMPARE = 4'd6, S_EMIT = 4'd7,
                 S_STALE_CLEAR = 4'd8;
reg [3:0] state;
reg [LOCATE_WIDTH:0] clear_index;

wire os_ready, os_find_valid, os_hit, os_free;
wire [ENTRY_WIDTH-1:0] os_entry;
wire lv_ready, lv_resp_valid, lv_resp_ok, lv_top_valid;
wire [SLOT_WIDTH-1:0] lv_resp_slot;
wire [31:0] lv_top_price;
wire [63:0] lv_top_shares;
wire [CACHE_BITS-1:0] lv_levels;
wire [TOP_N-1:0] lv_levels_changed;

// the order found by S_REF_FIND
wire [LOCATE_WIDTH-1:0] found_locate = os_entry[0 +: LOCATE_WIDTH];
wire                    found_sell   = os_entry[LOCATE_WIDTH];
wire [31:0]             found_price  = os_entry[LOCATE_WIDTH+1 +: 32];
wire [31:0]             found_shares = os_entry[LOCATE_WIDTH+33 +: 32];
wire [SLOT_WIDTH-1:0]   found_slot   = os_entry[LOCATE_WIDTH+65 +: SLOT_WIDTH];
wire whole = ev_kind == "D" || ev_kind == "U";
// One subtraction gives both the shares left and, by its borrow, the overfill: a compare
// ahead of the subtract would put two carry chains in series behind the order-store read.
wire [32:0] partial_left = {1'b0, found_shares} - {1'b0, ev_shares};
wire over = !whole && partial_left[32];
wire [31:0] take = whole || over ? found_shares : ev_shares;
wire [31:0] left = whole || over ? 32'd0 : partial_left[31:0];

// os_ready: an add that had to move orders in the store is still moving them; the U's
// second find needs no such wait (the delete before it never moves orders)
wire accept_event = state == S_IDLE && !stale_clear_valid && os_ready && s_axis_tvalid;
assign s_axis_tready = state == S_IDLE && !stale_clear_valid && os_ready;
assign stale_clear_ready = state == S_IDLE;

wire add_go = state == S_ADD_FIND && os_find_valid && !os_hit && ev_shares != 0 && os_free;

wire os_find = (accept_event && ((in_add && in_range) || in_change))
            || (state == S_REDUCE_LEVEL && lv_resp_valid && ev_kind == "U");
wire [63:0] os_find_ref = state == S_IDLE ? in_ref : ev_new_ref;
wire os_write = (state == S_REF_FIND && os_find_valid && os_hit)
             || (state == S_ADD_LEVEL && lv_resp_valid && lv_resp_ok);
wire os_write_valid = state == S_ADD_LEVEL || left != 0;
wire [ENTRY_WIDTH-1:0] os_write_entry = state == S_ADD_LEVEL
    ? {lv_resp_slot, ev_shares, ev_price, ev_sell, ev_locate}
    : {found_slot, left, found_price, found_sell, found_locate};

wire lv_req = add_go || (state == S_REF_FIND && os_find_valid && os_hit);
wire lv_req_add = state == S_ADD_FIND;
wire [LOCATE_WIDTH:0] lv_req_book = state == S_ADD_FIND ? {ev_locate, ev_sell} : {found_locate, found_sell};

order_store #(
    .BUCKET_BITS(ORDER_BUCKET_BITS), .WAYS(ORDER_WAYS), .LOCATE_WIDTH(LOCATE_WIDTH),
    .SLOT_WIDTH(SLOT_WIDTH), .ULTRA_RAM(ULTRA_RAM)
) order_store_inst (
    .clk(clk), .rst(rst),
    .op_ready(os_ready), .op_find(os_find), .op_ref(os_find_ref),
    .op_write(os_write), .op_write_valid(os_write_valid), .op_entry(os_write_entry),
    .find_valid(os_find_valid), .find_hit(os_hit), .find_free(os_free), .find_entry(os_entry),
    .live_orders(status_live_orders)
);

price_levels #(
    .MAX_SYMBOLS(MAX_SYMBOLS), .LEVELS(LEVELS), .TOP_N(TOP_N),
    .SIZE_WIDTH(BBO_LEVEL_SIZE_WIDTH), .COUNT_WIDTH(BBO_LEVEL_ORDERS_WIDTH),
    .ULTRA_RAM(ULTRA_RAM)
) price_levels_inst (
    .clk(clk), .rst(rst),
    .req_ready(lv_ready), .req_valid(lv_req), .req_add(lv_req_add), .req_book(lv_req_book),
    .req_price(ev_price), .req_shares(lv_req_add ? ev_shares : take), .req_slot(found_slot),
    .req_remove(left == 0),
    .resp_valid(lv_resp_valid), .resp_ok(lv_resp_ok), .resp_slot(lv_resp_slot),
    .resp_top_valid(lv_top_valid), .resp_top_price(lv_top_price), .resp_top_shares(lv_top_shares),
    .resp_levels(lv_levels), .resp_levels_changed(lv_levels_changed),
    .stat_scan(stat_level_scan)
);

// ---- the outcome of the event ----

reg        touched;     // the levels of side ev_sell were changed
reg [31:0] top_price;
reg [63:0] top_shares;
reg        stale_new;   // this event found no room
reg        depth_changed;            // the side's best DEPTH_OUT levels changed (DEPTH_OUT > 0)
reg        u_same;                   // U: the new order has the original's price and shares
reg [DEPTH_BITS-1:0] depth_levels;   // those levels after the event, {spare, levels}

// The level response that ends an event (the add of A/F/U, the reduce of
// E/C/X/D) is compared and sent in the cycle it arrives, not one later: the
// *_now values mix it into the registers above, which hold the outcome of
// the earlier steps (the reduce of a U, or an add refused before the levels).
wire lv_last = lv_resp_valid && (state == S_ADD_LEVEL || (state == S_REDUCE_LEVEL && ev_kind != "U"));
wire lv_took = lv_resp_valid && (state == S_REDUCE_LEVEL || lv_resp_ok);
wire deciding = state == S_COMPARE || lv_last;
wire        touched_now    = lv_took || touched;
wire [31:0] top_price_now  = lv_took ? lv_top_price : top_price;
wire [63:0] top_shares_now = lv_took ? lv_top_shares : top_shares;
wire        stale_new_now  = stale_new || (lv_resp_valid && state == S_ADD_LEVEL && !lv_resp_ok);
wire        lv_depth       = (lv_levels_changed & DEPTH_MASK) != 0;
wire        depth_changed_now = !lv_resp_valid ? depth_changed
                              : state == S_REDUCE_LEVEL ? lv_depth
                              : ev_kind == "U" && lv_resp_ok && u_same ? 1'b0  // the book is as before
                              : depth_changed || lv_depth;
// only the low DEPTH_OUT levels are sent; DEPTH_BITS is at most CACHE_BITS + 1
wire [CACHE_BITS:0] lv_levels_wide = {1'b0, lv_levels};
wire [DEPTH_BITS-1:0] depth_levels_now = lv_resp_valid ? lv_levels_wide[DEPTH_BITS-1:0] : depth_levels;
wire depth_emit = DEPTH_OUT != 0 && depth_changed_now;

// the symbol's quote after the event: the side it touched gets that side's new best level
wire [QUOTE_WIDTH-1:0] bbo_next = !touched_now ? bbo_rd
    : ev_sell ? {top_shares_now, bbo_rd[QUOTE_BID_SIZE +: BBO_BID_SIZE_WIDTH],
                 top_price_now, bbo_rd[QUOTE_BID_PRICE +: BBO_BID_PRICE_WIDTH]}
    : {bbo_rd[QUOTE_ASK_SIZE +: BBO_ASK_SIZE_WIDTH], top_shares_now,
       bbo_rd[QUOTE_ASK_PRICE +: BBO_ASK_PRICE_WIDTH], top_price_now};
wire was_stale = stale_rd[ev_locate[4:0]];
wire bbo_changed = bbo_next != bbo_rd;
wire became_stale = stale_new_now && !was_stale;
wire [7:0] depth_flags = !depth_emit ? 8'h00
                       : BBO_FLAG_DEPTH | (ev_sell ? BBO_FLAG_ASK : 8'h00)
                         | (bbo_changed ? 8'h00 : BBO_FLAG_DEPTH_ONLY);

// {depth, BBO fields from ask_size down to kind} cut to OUT_WIDTH: the spare bit of depth_levels falls off
wire [OUT_WIDTH:0] bbo_record_spare = {
    depth_emit ? depth_levels_now : {DEPTH_BITS{1'b0}},
    bbo_next, ev_seq, ev_timestamp, {{BBO_STOCK_LOCATE_WIDTH-LOCATE_WIDTH{1'b0}}, ev_locate},
    ((was_stale || stale_new_now) ? BBO_FLAG_STALE : 8'h00) | depth_flags, BBO_KIND_BBO
};
wire [OUT_WIDTH-1:0] bbo_record = bbo_record_spare[OUT_WIDTH-1:0];
wire [OUT_WIDTH:0] symbol_record_spare = {
    {DEPTH_BITS{1'b0}}, {BBO_ASK_SIZE_WIDTH{1'b0}},
    s_axis_tdata[REC_NEW_ORDER_REF_LSB +: REC_NEW_ORDER_REF_WIDTH],  // bid_size: the symbol name
    {BBO_ASK_PRICE_WIDTH{1'b0}}, {BBO_BID_PRICE_WIDTH{1'b0}},
    s_axis_tdata[REC_SEQ_LSB +: REC_SEQ_WIDTH], s_axis_tdata[REC_TIMESTAMP_LSB +: REC_TIMESTAMP_WIDTH], in_locate,
    {BBO_FLAGS_WIDTH{1'b0}}, BBO_KIND_SYMBOL
};
wire [OUT_WIDTH-1:0] symbol_record = symbol_record_spare[OUT_WIDTH-1:0];

reg [OUT_WIDTH-1:0] pending;
wire out_free = !m_axis_tvalid || m_axis_tready;

// ---- the engine's memory ports ----
// One write port per memory (the clear sweep after rst, else the one state that
// writes it) and one synchronous read port, muxed from the states: the shape
// Yosys maps to block RAM. A state never reads a memory in the cycle it writes it.

wire clear_sweep = state == S_CLEAR && !clear_index[LOCATE_WIDTH];
wire ref_found = state == S_REF_FIND && os_find_valid && os_hit;
wire symbol_event = accept_event && in_kind == "R" && in_range;

wire                    bbo_we    = clear_sweep || (deciding && bbo_changed);
wire [LOCATE_WIDTH-1:0] bbo_waddr = clear_sweep ? clear_index[LOCATE_WIDTH-1:0] : ev_locate;
wire [QUOTE_WIDTH-1:0]  bbo_wdata = clear_sweep ? {QUOTE_WIDTH{1'b0}} : bbo_next;
wire                    bbo_re    = state == S_IDLE || ref_found;
wire [LOCATE_WIDTH-1:0] bbo_raddr = state == S_IDLE ? in_locate[LOCATE_WIDTH-1:0] : found_locate;

wire                    stale_we    = clear_sweep || (deciding && became_stale)
                                      || state == S_STALE_CLEAR;
wire [LOCATE_WIDTH-6:0] stale_waddr = clear_sweep ? clear_index[LOCATE_WIDTH-1:5]
                                    : state == S_STALE_CLEAR ? stale_clear_word
                                    : ev_locate[LOCATE_WIDTH-1:5];
wire [31:0]             stale_wdata = clear_sweep ? 32'd0
                                    : state == S_STALE_CLEAR ? stale_rd & ~stale_clear_mask
                                    : stale_rd | (32'd1 << ev_locate[4:0]);
wire [LOCATE_WIDTH-6:0] stale_raddr = state != S_IDLE ? found_locate[LOCATE_WIDTH-1:5]
                                    : stale_clear_valid ? stale_clear_word
                                    : in_locate[LOCATE_WIDTH-1:5];

wire                    symbol_we    = clear_sweep || symbol_event;
wire [LOCATE_WIDTH-1:0] symbol_waddr = clear_sweep ? clear_index[LOCATE_WIDTH-1:0]
                                                   : in_locate[LOCATE_WIDTH-1:0];
wire [63:0]             symbol_wdata = clear_sweep ? 64'd0
                                     : s_axis_tdata[REC_NEW_ORDER_REF_LSB +: REC_NEW_ORDER_REF_WIDTH];

always @(posedge clk) begin
    if (bbo_we)
        bbo_ram[bbo_waddr] <= bbo_wdata;
    if (bbo_re)
        bbo_rd <= bbo_ram[bbo_raddr];
end

always @(posedge clk) begin
    if (stale_we)
        stale_ram[stale_waddr] <= stale_wdata;
    if (bbo_re)
        stale_rd <= stale_ram[stale_raddr];
end

always @(posedge clk) begin
    if (symbol_we)
        symbol_ram[symbol_waddr] <= symbol_wdata;
end

always @(posedge clk) begin
    if (m_axis_tready)
        m_axis_tvalid <= 1'b0;
    stat_event <= accept_event;
    stat_bbo_update <= 1'b0;
    stat_symbol_update <= 1'b0;
    stat_unknown_ref <= 1'b0;
    stat_duplicate_ref <= 1'b0;
    stat_overfill <= 1'b0;
    stat_zero_share_add <= 1'b0;
    stat_order_store_full <= 1'b0;
    stat_level_store_full <= 1'b0;
    stat_locate_range <= 1'b0;
    stat_stale_raised <= 1'b0;

    case (state)
    S_CLEAR: begin
        if (!clear_index[LOCATE_WIDTH]) begin
            clear_index <= clear_index + 1'b1;
        end else if (os_ready && lv_ready) begin
            state <= S_IDLE;
        end
    end
    S_IDLE: begin
        touched <= 1'b0;
        stale_new <= 1'b0;
        depth_changed <= 1'b0;
        ev_kind <= in_kind;
        ev_timestamp <= s_axis_tdata[REC_TIMESTAMP_LSB +: REC_TIMESTAMP_WIDTH];
        ev_seq <= s_axis_tdata[REC_SEQ_LSB +: REC_SEQ_WIDTH];
        ev_new_ref <= s_axis_tdata[REC_NEW_ORDER_REF_LSB +: REC_NEW_ORDER_REF_WIDTH];
        ev_shares <= s_axis_tdata[REC_SHARES_LSB +: REC_SHARES_WIDTH];
        ev_price <= s_axis_tdata[REC_PRICE_LSB +: REC_PRICE_WIDTH];
        ev_sell <= s_axis_tdata[REC_SIDE_LSB +: REC_SIDE_WIDTH] == "S";
        ev_locate <= in_locate[LOCATE_WIDTH-1:0];
        if (stale_clear_valid) begin
            state <= S_STALE_CLEAR;
        end else if (s_axis_tvalid && os_ready) begin
            if ((in_add || in_kind == "R") && !in_range) begin
                stat_locate_range <= 1'b1;
            end else if (in_add) begin
                state <= S_ADD_FIND;
            end else if (in_change) begin
                state <= S_REF_FIND;
            end else if (in_kind == "R") begin
                pending <= symbol_record;
                stat_symbol_update <= 1'b1;
                state <= S_EMIT;
            end
        end
    end
    S_ADD_FIND: begin
        if (os_find_valid) begin
            if (os_hit) begin
                stat_duplicate_ref <= 1'b1;
                state <= S_COMPARE;
            end else if (ev_shares == 0) begin
                stat_zero_share_add <= 1'b1;
                state <= S_COMPARE;
            end else if (!os_free) begin
                stat_order_store_full <= 1'b1;
                stale_new <= 1'b1;
                state <= S_COMPARE;
            end else begin
                state <= S_ADD_LEVEL;
            end
        end
    end
    S_ADD_LEVEL: begin
        // the event ends here: compared and sent below (deciding)
        if (lv_resp_valid && !lv_resp_ok)
            stat_level_store_full <= 1'b1;
    end
    S_REF_FIND: begin
        if (os_find_valid) begin
            if (os_hit) begin
                stat_overfill <= over;
                u_same <= ev_price == found_price && ev_shares == found_shares;
                ev_locate <= found_locate;
                ev_sell <= found_sell;
                state <= S_REDUCE_LEVEL;
            end else begin
                stat_unknown_ref <= 1'b1;
                state <= S_IDLE;
            end
        end
    end
    S_REDUCE_LEVEL: begin
        // E/C/X/D end here (deciding); a U goes on to add its new order
        if (lv_resp_valid && ev_kind == "U") begin
            touched <= touched_now;
            top_price <= top_price_now;
            top_shares <= top_shares_now;
            depth_changed <= depth_changed_now;
            depth_levels <= depth_levels_now;
            state <= S_ADD_FIND;
        end
    end
    S_COMPARE: begin
        // an event that ended before reaching the levels: compared and sent below (deciding)
    end
    S_EMIT: begin
        if (out_free) begin
            m_axis_tdata <= pending;
            m_axis_tvalid <= 1'b1;
            state <= S_IDLE;
        end
    end
    S_STALE_CLEAR: begin
        status_stale_symbols <= status_stale_symbols - {26'd0, popcount(stale_rd & stale_clear_mask)};
        state <= S_IDLE;
    end
    default: state <= S_IDLE;
    endcase

    if (deciding) begin
        if (became_stale) begin
            status_stale_symbols <= status_stale_symbols + 1'b1;
            stat_stale_raised <= 1'b1;
        end
        if (bbo_changed || became_stale || depth_emit) begin
            stat_bbo_update <= 1'b1;
            if (out_free) begin
                m_axis_tdata <= bbo_record;
                m_axis_tvalid <= 1'b1;
                state <= S_IDLE;
            end else begin
                pending <= bbo_record;
                state <= S_EMIT;
            end
        end else begin
            state <= S_IDLE;
        end
    end

    if (rst) begin
        state <= S_CLEAR;
        clear_index <= 0;
        m_axis_tvalid <= 1'b0;
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
