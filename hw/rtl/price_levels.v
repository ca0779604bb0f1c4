// Price levels: per symbol and side, aggregate shares and order count per price,
// with a sorted cache of the best TOP_N levels.
//
// Structure, per book (book = {stock locate, side}, side 1 = sell):
//   level RAM  LEVELS slots {count, shares, price}, addressed {book, slot}.
//              Every live level has a slot; an order remembers its level's slot
//              (order_store), so reductions never search by price.
//   head RAM   one word: occupancy bitmap of the slots, number of live levels,
//              the cache: the best min(TOP_N, levels) levels, best first,
//              each {slot, count, shares, price} (a write-through copy), and a
//              tag per slot (8 bits folded from its level's price).
// An add whose price is in the cache, or better than the cache's worst, or to a
// side whose levels all fit the cache, is decided from the head word alone (new
// levels take the lowest free slot), and so is an add worse than the cache's
// worst whose price's tag no uncached level has: it is a new level. Only an add
// worse than the cache's worst whose tag some uncached levels share reads those
// levels (one per cycle, stopping at the price), and only a cached level that empties on a
// side with more levels than the cache holds refills the cache from the level
// RAM (the best uncached level, one occupied slot per cycle). The cache is
// therefore always exactly the best min(TOP_N, levels) levels. An add of a new
// price to a side with LEVELS live prices is refused (dec_ok = 0): the caller
// drops the order and flags the symbol stale.
//
// Interface: a request (req_valid) reads its side's head word and level; the
// decision follows in the next cycle and, when it needs no scan, is done then
// (done, with dec_ok and dec_slot). It is written when the caller takes it
// (ack), and a new request may come in that same cycle: the RAMs read the word
// written in the cycle they are read (sdp_ram WRITE_FIRST), so a request on the
// side just changed sees the change. A scan keeps done low until it ends. With
// ack the resp_* registers take the outcome: the side's best level after the
// request (resp_top_*; zeros when the side is empty), the side's cached levels after it
// (resp_levels, best first, {count, shares, price} each, zeros past the last)
// and which of them differ from before it (resp_levels_changed, bit i = level
// i): the optional top-N output.
//   add    (req_add = 1): req_price, req_shares -> dec_ok, dec_slot
//   reduce (req_add = 0): req_slot, req_shares off the level, req_remove: one
//          order leaves it; the level goes when its last order does.
// After rst the head RAM is cleared one word per cycle; req_ready is low then.

module price_levels #(
    parameter MAX_SYMBOLS = 1024,
    parameter LEVELS = 64,
    parameter TOP_N = 8,
    parameter SIZE_WIDTH = 64,
    parameter COUNT_WIDTH = 32,
    parameter ULTRA_RAM = 0  // 1: the level array in UltraRAM (sdp_ram)
) (
    input  wire                      clk,
    input  wire                      rst,

    output wire                      req_ready,
    input  wire                      req_valid,
    input  wire                      req_add,
    input  wire [LOCATE_WIDTH:0]     req_book,
    input  wire [31:0]               req_price,
    input  wire [31:0]               req_shares,
    input  wire [SLOT_WIDTH-1:0]     req_slot,
    input  wire                      req_remove,

    output wire                      done,
    output wire                      dec_ok,
    output wire [SLOT_WIDTH-1:0]     dec_slot,
    input  wire                      ack,

    output reg  [31:0]               resp_top_price,
    output reg  [SIZE_WIDTH-1:0]     resp_top_shares,
    output reg  [TOP_N*LEVEL_WIDTH-1:0] resp_levels,
    output reg  [TOP_N-1:0]          resp_levels_changed,

    output reg                       stat_scan
);

localparam LOCATE_WIDTH = $clog2(MAX_SYMBOLS);
localparam SLOT_WIDTH = $clog2(LEVELS);
localparam BOOKS = 2 * MAX_SYMBOLS;
localparam NL_WIDTH = SLOT_WIDTH + 1;
localparam NC_WIDTH = $clog2(TOP_N + 1);
localparam PRICE_WIDTH = 32;
localparam LEVEL_WIDTH = PRICE_WIDTH + SIZE_WIDTH + COUNT_WIDTH;  // {count, shares, price}
localparam CE_WIDTH = SLOT_WIDTH + LEVEL_WIDTH;           // {slot, count, shares, price}
localparam TAG_BITS = 8;
localparam HEAD_WIDTH = LEVELS * TAG_BITS + TOP_N * CE_WIDTH + NC_WIDTH + NL_WIDTH + LEVELS;
localparam NL_LSB = LEVELS;
localparam NC_LSB = LEVELS + NL_WIDTH;
localparam CACHE_LSB = NC_LSB + NC_WIDTH;
localparam TAGS_LSB = CACHE_LSB + TOP_N * CE_WIDTH;
localparam PRICE_LSB = 0;
localparam SHARES_LSB = PRICE_WIDTH;
localparam COUNT_LSB = PRICE_WIDTH + SIZE_WIDTH;
localparam SLOT_LSB = LEVEL_WIDTH;

initial begin
    if (MAX_SYMBOLS < 2 || (MAX_SYMBOLS & (MAX_SYMBOLS - 1)) != 0
            || LEVELS < 2 || (LEVELS & (LEVELS - 1)) != 0
            || TOP_N < 1 || TOP_N > LEVELS || SIZE_WIDTH < 32 || COUNT_WIDTH < 1) begin
        $error("price_levels: MAX_SYMBOLS and LEVELS powers of two >= 2, 1 <= TOP_N <= LEVELS, SIZE_WIDTH >= 32");
        $finish;
    end
end

localparam [2:0] S_CLEAR = 3'd0, S_IDLE = 3'd1, S_DECIDE = 3'd2, S_SCAN = 3'd3, S_SCANNED = 3'd4,
                 S_REFILL = 3'd5;  // a refill's first cycle: which slots to read, from head_work
reg [2:0] state;
reg [LOCATE_WIDTH+1:0] clear_index;

// the request being served
reg                  op_add, op_remove;
reg [LOCATE_WIDTH:0] op_book;
reg [31:0]           op_price, op_shares;
reg [TAG_BITS-1:0]   op_tag;  // price_tag(op_price)

// A level's size (SIZE_WIDTH bits) plus or minus an order's 32-bit shares, carry-select: the
// high part's +1 / -1 is computed beside the low part's add and chosen by its carry, so the
// carry chain is 32 bits long, not SIZE_WIDTH.
function [SIZE_WIDTH-1:0] size_plus;
    input [SIZE_WIDTH-1:0] size;
    input [31:0] shares;
    reg [32:0] low;
    begin
        low = {1'b0, size[31:0]} + {1'b0, shares};
        size_plus = {low[32] ? size[SIZE_WIDTH-1:32] + 1'b1 : size[SIZE_WIDTH-1:32], low[31:0]};
    end
endfunction

function [SIZE_WIDTH-1:0] size_minus;
    input [SIZE_WIDTH-1:0] size;
    input [31:0] shares;
    reg [32:0] low;
    begin
        low = {1'b0, size[31:0]} - {1'b0, shares};
        size_minus = {low[32] ? size[SIZE_WIDTH-1:32] - 1'b1 : size[SIZE_WIDTH-1:32], low[31:0]};
    end
endfunction
reg [SLOT_WIDTH-1:0] op_slot;
wire op_sell = op_book[0];

wire [HEAD_WIDTH-1:0] head_rd;   // head RAM read data (S_DECIDE)
reg [HEAD_WIDTH-1:0]  head_work; // head under change while scanning
wire [LEVEL_WIDTH-1:0] level_rd;  // level RAM read data

// scan: occupied slots still to read, the slot whose data arrives next cycle
reg                  scan_find;  // 1: look for op_price; 0: best uncached level
reg [LEVELS-1:0]     scan_pending;
reg                  scan_rd_valid;
reg [SLOT_WIDTH-1:0] scan_rd_slot;
reg                  best_valid;
reg [CE_WIDTH-1:0]   best;

assign req_ready = state != S_CLEAR;

function better;  // a is a better price than b on this side
    input sell;
    input [31:0] a, b;
    begin
        better = sell ? a < b : a > b;
    end
endfunction

// a price's tag: its bytes XORed, so the neighbouring prices of one side differ in it
function [TAG_BITS-1:0] price_tag;
    input [31:0] price;
    begin
        price_tag = price[7:0] ^ price[15:8] ^ price[23:16] ^ price[31:24];
    end
endfunction

// the slots of the first count cache entries
function [LEVELS-1:0] slots_of;
    input [TOP_N*CE_WIDTH-1:0] entries;
    input [NC_WIDTH-1:0] count;
    integer k;
    begin
        slots_of = 0;
        for (k = 0; k < TOP_N; k = k + 1)
            if (k < count)
                slots_of[entries[k*CE_WIDTH + SLOT_LSB +: SLOT_WIDTH]] = 1'b1;
    end
endfunction

function [SLOT_WIDTH-1:0] lowest_set;
    input [LEVELS-1:0] bits;
    integer k;
    begin
        lowest_set = 0;
        for (k = LEVELS - 1; k >= 0; k = k - 1)
            if (bits[k])
                lowest_set = k[SLOT_WIDTH-1:0];
    end
endfunction

// ---- decision on the head word (S_DECIDE) and at the end of a scan ----
// Cache entries are chosen by comparing a loop index with the wanted position,
// never by a variable part-select: a part-select at index*CE_WIDTH becomes a
// barrel shifter across the whole cache, in logic and in synthesis time.

wire [LEVELS-1:0]        bitmap  = head_rd[LEVELS-1:0];
wire [NL_WIDTH-1:0]      nlevels = head_rd[NL_LSB +: NL_WIDTH];
wire [NC_WIDTH-1:0]      ncached = head_rd[NC_LSB +: NC_WIDTH];
wire [TOP_N*CE_WIDTH-1:0] cache  = head_rd[CACHE_LSB +: TOP_N*CE_WIDTH];
wire [LEVELS*TAG_BITS-1:0] tags  = head_rd[TAGS_LSB +: LEVELS*TAG_BITS];

// the uncached levels that may hold op_price: an add worse than every cached level reads only these
reg [LEVELS-1:0] tag_match;
integer m;
always @*
    for (m = 0; m < LEVELS; m = m + 1)
        tag_match[m] = tags[m*TAG_BITS +: TAG_BITS] == op_tag;
wire [LEVELS-1:0] candidates = bitmap & ~slots_of(cache, ncached) & tag_match;

reg                    hit;
reg [TOP_N-1:0]        hit_at;  // one-hot: the cache entry holding op_price (add) or op_slot (reduce)
reg [TOP_N-1:0]        ahead;   // the cached levels better than op_price: a prefix, the cache is sorted
reg [TOP_N-1:0]        from_hit;  // the entries at and after the hit
reg                    seen_hit;
reg [TOP_N*CE_WIDTH-1:0] cache_next;
reg [NC_WIDTH-1:0]     ncached_next;
reg [NL_WIDTH-1:0]     nlevels_next;
reg [LEVELS-1:0]       bitmap_next;
reg [LEVELS*TAG_BITS-1:0] tags_next;
reg                    need_scan, add_ok, level_we;
reg [SLOT_WIDTH-1:0]   level_slot;
reg [LEVEL_WIDTH-1:0]  level_wdata, level_new;
reg [CE_WIDTH-1:0]     entry, hit_entry;
reg                    gone;
integer i;

always @* begin
    // Masks, not indices: a position encoded and decoded again would put a priority encoder and
    // wide multiplexers behind the compares.
    hit_entry = 0;
    seen_hit = 1'b0;
    for (i = 0; i < TOP_N; i = i + 1) begin
        hit_at[i] = i < ncached && (op_add ? cache[i*CE_WIDTH + PRICE_LSB +: PRICE_WIDTH] == op_price
                                           : cache[i*CE_WIDTH + SLOT_LSB +: SLOT_WIDTH] == op_slot);
        ahead[i] = i < ncached && better(op_sell, cache[i*CE_WIDTH + PRICE_LSB +: PRICE_WIDTH], op_price);
        hit_entry = hit_entry | (hit_at[i] ? cache[i*CE_WIDTH +: CE_WIDTH] : {CE_WIDTH{1'b0}});
        seen_hit = seen_hit || hit_at[i];
        from_hit[i] = seen_hit;
    end
    hit = hit_at != 0;

    cache_next = cache;
    ncached_next = ncached;
    nlevels_next = nlevels;
    bitmap_next = bitmap;
    tags_next = tags;
    need_scan = 1'b0;
    add_ok = 1'b1;
    level_we = 1'b0;
    level_slot = op_slot;
    level_wdata = level_rd;
    level_new = {{COUNT_WIDTH-1{1'b0}}, 1'b1, {SIZE_WIDTH-32{1'b0}}, op_shares, op_price};
    gone = 1'b0;
    entry = 0;

    if (op_add) begin
        if (hit) begin
            entry = hit_entry;
            entry[SHARES_LSB +: SIZE_WIDTH] = size_plus(entry[SHARES_LSB +: SIZE_WIDTH], op_shares);
            entry[COUNT_LSB +: COUNT_WIDTH] = entry[COUNT_LSB +: COUNT_WIDTH] + 1'b1;
            for (i = 0; i < TOP_N; i = i + 1)
                if (hit_at[i])
                    cache_next[i*CE_WIDTH +: CE_WIDTH] = entry;
            level_we = 1'b1;
            level_slot = entry[SLOT_LSB +: SLOT_WIDTH];
            level_wdata = entry[LEVEL_WIDTH-1:0];
        end else if (nlevels > TOP_N && better(op_sell, cache[(TOP_N-1)*CE_WIDTH + PRICE_LSB +: PRICE_WIDTH], op_price)
                     && candidates != 0) begin
            // worse than every cached level (uncached levels exist, so the cache is full: its
            // last entry is the worst), and uncached levels share its tag: search those
            need_scan = 1'b1;
        end else if (nlevels == LEVELS) begin
            add_ok = 1'b0;
        end else begin
            level_we = 1'b1;
            level_slot = lowest_set(~bitmap);
            level_wdata = level_new;
            bitmap_next[level_slot] = 1'b1;
            for (i = 0; i < LEVELS; i = i + 1)
                if (i == {{32-SLOT_WIDTH{1'b0}}, level_slot})
                    tags_next[i*TAG_BITS +: TAG_BITS] = op_tag;
            nlevels_next = nlevels + 1'b1;
            if (!ahead[TOP_N-1]) begin  // better than a cached level, or the cache has room
                entry = {level_slot, level_new};
                // entries ahead of it stay, it comes next, the rest move down one
                for (i = 0; i < TOP_N; i = i + 1)
                    if (!ahead[i])
                        cache_next[i*CE_WIDTH +: CE_WIDTH] = i == 0 || ahead[i > 0 ? i - 1 : 0] ? entry
                                                           : cache[(i > 0 ? i - 1 : 0)*CE_WIDTH +: CE_WIDTH];
                if (ncached < TOP_N)
                    ncached_next = ncached + 1'b1;
            end
        end
    end else begin
        gone = op_remove && level_rd[COUNT_LSB +: COUNT_WIDTH] == 1;
        level_we = 1'b1;
        level_wdata[SHARES_LSB +: SIZE_WIDTH] = size_minus(level_rd[SHARES_LSB +: SIZE_WIDTH], op_shares);
        level_wdata[COUNT_LSB +: COUNT_WIDTH] = level_rd[COUNT_LSB +: COUNT_WIDTH] - op_remove;
        if (gone) begin
            bitmap_next[op_slot] = 1'b0;
            nlevels_next = nlevels - 1'b1;
        end
        if (hit && gone) begin
            for (i = 0; i < TOP_N; i = i + 1)
                if (from_hit[i])
                    cache_next[i*CE_WIDTH +: CE_WIDTH] =
                        i + 1 < TOP_N ? cache[((i+1) % TOP_N)*CE_WIDTH +: CE_WIDTH] : {CE_WIDTH{1'b0}};
            ncached_next = ncached - 1'b1;
            need_scan = nlevels > {{NL_WIDTH-NC_WIDTH{1'b0}}, ncached};  // levels beyond the cache: one moves up
        end else if (hit) begin
            for (i = 0; i < TOP_N; i = i + 1)
                if (hit_at[i]) begin
                    cache_next[i*CE_WIDTH + SHARES_LSB +: SIZE_WIDTH] = level_wdata[SHARES_LSB +: SIZE_WIDTH];
                    cache_next[i*CE_WIDTH + COUNT_LSB +: COUNT_WIDTH] = level_wdata[COUNT_LSB +: COUNT_WIDTH];
                end
        end
    end
end

// ---- scan step: the level that arrived this cycle ----

wire scan_match = scan_rd_valid && scan_find && level_rd[PRICE_LSB +: PRICE_WIDTH] == op_price;
wire scan_better = scan_rd_valid && !scan_find
                   && (!best_valid || better(op_sell, level_rd[PRICE_LSB +: PRICE_WIDTH],
                                             best[PRICE_LSB +: PRICE_WIDTH]));
wire scan_done = scan_match || (scan_pending == 0 && !scan_rd_valid);

wire [LEVELS-1:0]        work_bitmap  = head_work[LEVELS-1:0];
wire [NL_WIDTH-1:0]      work_nlevels = head_work[NL_LSB +: NL_WIDTH];
wire [NC_WIDTH-1:0]      work_ncached = head_work[NC_LSB +: NC_WIDTH];
wire [SLOT_WIDTH-1:0]    work_free    = lowest_set(~work_bitmap);
wire [CE_WIDTH-1:0]      best_final   = scan_better ? {scan_rd_slot, level_rd} : best;

reg [HEAD_WIDTH-1:0] head_final;  // head_work with the scan's outcome
integer j;
always @* begin
    head_final = head_work;
    if (scan_find) begin
        if (!scan_match && work_nlevels != LEVELS) begin
            head_final[{{32-SLOT_WIDTH{1'b0}}, work_free}] = 1'b1;
            head_final[NL_LSB +: NL_WIDTH] = work_nlevels + 1'b1;
            for (j = 0; j < LEVELS; j = j + 1)
                if (j == {{32-SLOT_WIDTH{1'b0}}, work_free})
                    head_final[TAGS_LSB + j*TAG_BITS +: TAG_BITS] = op_tag;
        end
    end else begin
        for (j = 0; j < TOP_N; j = j + 1)
            if (j == {{32-NC_WIDTH{1'b0}}, work_ncached})
                head_final[CACHE_LSB + j*CE_WIDTH +: CE_WIDTH] = best_final;
        head_final[NC_LSB +: NC_WIDTH] = work_ncached + 1'b1;
    end
end

wire [CE_WIDTH-1:0] top_next  = cache_next[CE_WIDTH-1:0];
wire [CE_WIDTH-1:0] top_final = head_final[CACHE_LSB +: CE_WIDTH];

// The cached levels as the response carries them: {count, shares, price}, zeros past the last.
function [TOP_N*LEVEL_WIDTH-1:0] levels_of;
    input [TOP_N*CE_WIDTH-1:0] entries;
    input [NC_WIDTH-1:0] count;
    integer k;
    begin
        levels_of = 0;
        for (k = 0; k < TOP_N; k = k + 1)
            if (k < count)
                levels_of[k*LEVEL_WIDTH +: LEVEL_WIDTH] = entries[k*CE_WIDTH +: LEVEL_WIDTH];
    end
endfunction

function [TOP_N-1:0] levels_differ;
    input [TOP_N*LEVEL_WIDTH-1:0] a, b;
    integer k;
    begin
        for (k = 0; k < TOP_N; k = k + 1)
            levels_differ[k] = a[k*LEVEL_WIDTH +: LEVEL_WIDTH] != b[k*LEVEL_WIDTH +: LEVEL_WIDTH];
    end
endfunction

wire [TOP_N*LEVEL_WIDTH-1:0] levels_before = levels_of(cache, ncached);
wire [TOP_N*LEVEL_WIDTH-1:0] levels_decide = levels_of(cache_next, ncached_next);
wire [TOP_N*LEVEL_WIDTH-1:0] levels_scan   = levels_of(head_final[CACHE_LSB +: TOP_N*CE_WIDTH],
                                                       head_final[NC_LSB +: NC_WIDTH]);

reg [LEVEL_WIDTH-1:0] found_level;
always @* begin
    found_level = level_rd;
    found_level[SHARES_LSB +: SIZE_WIDTH] = size_plus(level_rd[SHARES_LSB +: SIZE_WIDTH], op_shares);
    found_level[COUNT_LSB +: COUNT_WIDTH] = level_rd[COUNT_LSB +: COUNT_WIDTH] + 1'b1;
end

// ---- the two RAMs: one write port and one synchronous read port each ----
// Every write and read below is muxed from the states into one address, data
// and enable, the shape Yosys maps to block RAM or UltraRAM. A decision is
// written as the caller takes it; a scan's, as the scan ends.

// a scan's outcome, held from its end until the caller takes it
reg                     scan_ok;
reg [SLOT_WIDTH-1:0]    scan_slot;
reg [CE_WIDTH-1:0]      scan_top;
reg [TOP_N*LEVEL_WIDTH-1:0] scan_levels;

assign done     = (state == S_DECIDE && !need_scan) || state == S_SCANNED;
assign dec_ok   = state == S_SCANNED ? scan_ok : add_ok;
assign dec_slot = state == S_SCANNED ? scan_slot : level_slot;
wire   taken    = done && ack;

wire [SLOT_WIDTH-1:0] scan_next = lowest_set(scan_pending);
wire scan_read  = state == S_SCAN && scan_pending != 0 && !scan_match;
wire scan_write = state == S_SCAN && scan_done && scan_find && (scan_match || work_nlevels != LEVELS);

wire                         head_we = state == S_CLEAR || (state == S_DECIDE && taken)
                                       || (state == S_SCAN && scan_done);
wire [LOCATE_WIDTH:0]        head_waddr = state == S_CLEAR ? clear_index[LOCATE_WIDTH:0] : op_book;
wire [HEAD_WIDTH-1:0]        head_wdata = state == S_CLEAR ? {HEAD_WIDTH{1'b0}}
                                        : state == S_SCAN ? head_final
                                        : {tags_next, cache_next, ncached_next, nlevels_next, bitmap_next};
wire                         head_re = req_valid;

wire                         level_ram_we = (state == S_DECIDE && taken && level_we) || scan_write;
wire [SLOT_WIDTH-1:0]        level_wslot = state == S_DECIDE ? level_slot
                                         : scan_match ? scan_rd_slot : work_free;
wire [LEVEL_WIDTH-1:0]       level_ram_wdata = state == S_DECIDE ? level_wdata
                                             : scan_match ? found_level : level_new;
wire                         level_re = head_re || scan_read;
wire [LOCATE_WIDTH+SLOT_WIDTH:0] level_raddr = scan_read ? {op_book, scan_next} : {req_book, req_slot};

sdp_ram #(.WIDTH(HEAD_WIDTH), .DEPTH(BOOKS), .WRITE_FIRST(1), .ADDR_WIDTH(LOCATE_WIDTH+1)) head_ram (
    .clk(clk), .we(head_we), .waddr(head_waddr), .wdata(head_wdata),
    .re(head_re), .raddr(req_book), .rdata(head_rd)
);

sdp_ram #(.WIDTH(LEVEL_WIDTH), .DEPTH(BOOKS*LEVELS), .ULTRA(ULTRA_RAM), .WRITE_FIRST(1),
          .ADDR_WIDTH(LOCATE_WIDTH+SLOT_WIDTH+1)) level_ram (
    .clk(clk), .we(level_ram_we), .waddr({op_book, level_wslot}), .wdata(level_ram_wdata),
    .re(level_re), .raddr(level_raddr), .rdata(level_rd)
);

always @(posedge clk) begin
    stat_scan <= 1'b0;
    scan_rd_valid <= 1'b0;
    if (taken) begin
        if (state == S_SCANNED) begin
            resp_top_price <= scan_top[PRICE_LSB +: PRICE_WIDTH];
            resp_top_shares <= scan_top[SHARES_LSB +: SIZE_WIDTH];
            resp_levels <= scan_levels;
            // head_rd still holds the head from before the request
            resp_levels_changed <= levels_differ(scan_levels, levels_before);
        end else begin
            resp_top_price <= ncached_next != 0 ? top_next[PRICE_LSB +: PRICE_WIDTH] : 32'd0;
            resp_top_shares <= ncached_next != 0 ? top_next[SHARES_LSB +: SIZE_WIDTH] : {SIZE_WIDTH{1'b0}};
            resp_levels <= levels_decide;
            resp_levels_changed <= levels_differ(levels_decide, levels_before);
        end
        state <= S_IDLE;
    end
    // a request may come as the last one is taken
    if (req_valid) begin
        op_add <= req_add;
        op_book <= req_book;
        op_price <= req_price;
        op_tag <= price_tag(req_price);
        op_shares <= req_shares;
        op_slot <= req_slot;
        op_remove <= req_remove;
        state <= S_DECIDE;
    end
    case (state)
    S_CLEAR: begin
        clear_index <= clear_index + 1'b1;
        if (clear_index == BOOKS - 1)
            state <= S_IDLE;
    end
    S_DECIDE: begin
        if (need_scan) begin
            head_work <= {tags_next, cache_next, ncached_next, nlevels_next, bitmap_next};
            stat_scan <= 1'b1;
            scan_find <= op_add;
            scan_pending <= candidates;
            best_valid <= 1'b0;
            // a refill reads the uncached levels of the head after the change: found a cycle later,
            // from head_work, not behind the change itself
            state <= op_add ? S_SCAN : S_REFILL;
        end
    end
    S_REFILL: begin
        scan_pending <= work_bitmap & ~slots_of(head_work[CACHE_LSB +: TOP_N*CE_WIDTH], work_ncached);
        state <= S_SCAN;
    end
    S_SCAN: begin
        if (scan_read) begin
            scan_rd_slot <= scan_next;
            scan_rd_valid <= 1'b1;
            scan_pending[scan_next] <= 1'b0;
        end
        if (scan_better) begin
            best_valid <= 1'b1;
            best <= {scan_rd_slot, level_rd};
        end
        if (scan_done) begin
            scan_ok <= !scan_find || scan_match || work_nlevels != LEVELS;
            scan_slot <= scan_match ? scan_rd_slot : work_free;
            scan_top <= top_final;
            scan_levels <= levels_scan;
            state <= S_SCANNED;
        end
    end
    default: ;
    endcase
    if (rst) begin
        state <= S_CLEAR;
        clear_index <= 0;
        scan_rd_valid <= 1'b0;
    end
end

endmodule
