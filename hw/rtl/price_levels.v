// Price levels: per symbol and side, aggregate shares and order count per price,
// with a sorted cache of the best TOP_N levels.
//
// Structure, per book (book = {stock locate, side}, side 1 = sell):
//   slots      LEVELS per book; every live level has one. The slots come in blocks of
//              BLOCK_LEVELS, and a block in use (any of its slots live) has a block
//              of the level pool.
//   level pool one RAM for the whole market: LEVEL_BLOCKS blocks of BLOCK_LEVELS
//              levels {count, shares, price}, a level at {pool block, slot % BLOCK_LEVELS}.
//              An order remembers its level's reference {pool block, slot}
//              (order_store), so reductions never search by price and read the level
//              as they are requested. The default LEVEL_BLOCKS holds every book's
//              LEVELS levels; a smaller pool holds live levels, wherever they are.
//   free list  the pool blocks no book uses: a FIFO in a RAM (free_ram) behind a few
//              registers, filled with every block after rst.
//   head RAM   one word: occupancy bitmap of the slots, number of live levels,
//              the cache: the best min(TOP_N, levels) levels, best first,
//              each {slot, count, shares, price} (a write-through copy), a
//              tag per slot (8 bits folded from its level's price), and the pool
//              block of each of its blocks (meaningful while the block is in use).
// A new level takes the book's lowest free slot; when that slot's block is not in use it
// takes the pool's next free block (its pointer written into the head word), and a level
// that goes and leaves its block empty gives the block back.
// An add whose price is in the cache, or better than the cache's worst, or to a
// side whose levels all fit the cache, is decided from the head word alone (new
// levels take the lowest free slot), and so is an add worse than the cache's
// worst whose price's tag no uncached level has: it is a new level. Only an add
// worse than the cache's worst whose tag some uncached levels share reads those
// levels (one per cycle, stopping at the price), and only a cached level that empties on a
// side with more levels than the cache holds refills the cache from the level
// RAM (the best uncached level, one occupied slot per cycle). The cache is
// therefore always exactly the best min(TOP_N, levels) levels. An add of a new
// price to a side with LEVELS live prices, or whose slot's block is not in use while
// the pool has no free block, is refused (dec_ok = 0): the caller drops the order and
// flags the symbol stale.
//
// Interface: three stages behind a request, in request order.
//   P0 read (req_valid): the request reads its side's head word and level (at req_book and
//          req_slot); they wait in the RAMs' output registers and are copied into flip-flops
//          with nothing in front as the request moves on to P1 (rd_take, while P1 is empty or
//          its outcome is taken), so no logic follows a RAM's clock-to-output. The caller holds
//          the request in its own stage's flip-flops meanwhile and gives it as p0_*: no
//          register here waits on the caller's stall to take it.
//   P1 compare: the request's price against the cached levels, its tag against
//          the uncached ones, and every sum it may need, registered. The outcome
//          may be taken (cmp_take) while cmp_ready: the data read are current and
//          P2 holds no request of the same side (that one must be written first).
//          P2's write of the side of the request in P1, or of the one moving into P1,
//          is forwarded into P1's flip-flops (the head word whole, the level when it
//          is the request's), so a request right behind one of its side waits one
//          cycle. Data go stale when P2 writes their side while the request waits in
//          P0, or another read (P1's again, a scan's) replaces them in the RAMs'
//          output: P0 then reads its side again when the port is free, and P1 when
//          its data are stale (the word copied into its flip-flops a cycle later).
//   P2 decide: the head word and level written from the registered outcome,
//          done (with dec_ok and dec_slot) at once unless a scan is needed, and a scan
//          keeps done low until it ends and is written. The caller takes every outcome
//          as it is done, so no stall of the caller's reaches the write enables or the
//          forwarding choices; it holds the request's stage while P2 waits (waits: scans,
//          set as a request that scans is taken, and finishing, one LUT of two flip-flops).
// The RAMs' read enables are a flip-flop (port_read), set a cycle ahead: the ports read unless
// P0 is to keep its fresh data in their output, which the caller forecasts (p0_stays_next: its
// request will not move on next cycle) from cmp_ready_next and waits_next, so no stall reaches
// the enables of RAMs spread across the chip in its own cycle. A port that reads reads P1's or
// P0's side again, a scan's level, or else the address of whatever request the caller offers
// (its data are current when one comes). waits_next forecasts no scan for a request entering P2:
// a scan's first stall finds P0's data replaced, and P0 reads them again while the scan runs.
// As done the resp_* registers take the outcome: the side's best level after the
// request (resp_top_*; zeros when the side is empty), the side's cached levels after it
// (resp_levels, best first, {count, shares, price} each, zeros past the last)
// and which of them differ from before it (resp_levels_changed, bit i = level
// i): the optional top-N output.
//   add    (p0_add = 1): p0_price, p0_shares -> dec_ok, dec_slot (the level's reference)
//   reduce (p0_add = 0): p0_slot (the level's reference), p0_shares off the level,
//          p0_remove: one order leaves it; the level goes when its last order does;
//          p0_price: the level's price (the forwarding knows a level by its book and price).
// status_free_blocks: the pool's free blocks (a cycle behind).
// No logic follows a memory's read data in its cycle: P1 compares flip-flop copies and
// registers its compares and sums, and a scan registers each level as it arrives, compares
// it a cycle later and writes its outcome a cycle after the last.
// After rst the head RAM is cleared one word per cycle and the free list filled one block
// per cycle, max(2 * MAX_SYMBOLS, LEVEL_BLOCKS) cycles; req_ready is low then.

module price_levels #(
    parameter MAX_SYMBOLS = 1024,
    parameter LEVELS = 64,
    parameter TOP_N = 8,
    parameter SIZE_WIDTH = 64,
    parameter COUNT_WIDTH = 32,
    parameter ULTRA_RAM = 0,  // 1: the level pool in UltraRAM (sdp_ram)
    parameter HEAD_ULTRA = 0, // 1: the head words in UltraRAM
    // the level pool: LEVEL_BLOCKS blocks of BLOCK_LEVELS levels for the whole market; the default
    // holds LEVELS levels for every side, as many as a side can have
    parameter BLOCK_LEVELS = LEVELS < 8 ? LEVELS : 8,
    parameter LEVEL_BLOCKS = 2 * MAX_SYMBOLS * LEVELS / BLOCK_LEVELS,
    parameter LEVEL_SLICE = 0  // the level pool's RAM as arrays this wide side by side (sdp_ram SLICE_WIDTH)
) (
    input  wire                      clk,
    input  wire                      rst,

    output wire                      req_ready,
    input  wire                      p0_stays_next,  // forecast: P0's request, if any, stays in P0 next cycle
    input  wire                      req_valid,
    input  wire [LOCATE_WIDTH:0]     req_book,   // the side read
    input  wire [REF_WIDTH-1:0]      req_slot,   // reduce: the level read, its reference {pool block, slot}
    input  wire [31:0]               req_price,  // p0_price as the request enters P0
    // the request in P0, held by the caller until rd_take
    input  wire                      p0_add,
    input  wire [LOCATE_WIDTH:0]     p0_book,
    input  wire [31:0]               p0_price,
    input  wire [31:0]               p0_shares,
    input  wire [REF_WIDTH-1:0]      p0_ref,
    input  wire                      p0_remove,

    input  wire                      rd_take,    // P0's request moves to P1

    output wire                      cmp_ready,
    output wire                      cmp_ready_next,  // cmp_ready next cycle
    input  wire                      cmp_take,

    output wire                      waits,      // P2 holds a request it is not done with this cycle
    output wire                      waits_next, // waits next cycle, unless a request entering P2 scans
    output wire                      dec_ok,
    output wire [REF_WIDTH-1:0]      dec_slot,   // the level's reference {pool block, slot}

    output reg  [31:0]               resp_top_price,
    output reg  [SIZE_WIDTH-1:0]     resp_top_shares,
    output reg  [TOP_N*LEVEL_WIDTH-1:0] resp_levels,
    output reg  [TOP_N-1:0]          resp_levels_changed,

    output reg                       stat_scan,
    output reg  [BLOCK_WIDTH:0]      status_free_blocks  // pool blocks free
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
localparam BLOCK_WIDTH = $clog2(LEVEL_BLOCKS);   // a pool block's number
localparam LO_WIDTH = $clog2(BLOCK_LEVELS);      // a slot's place in its block
localparam SIDE_BLOCKS = LEVELS / BLOCK_LEVELS;  // blocks a side may hold
localparam REF_WIDTH = BLOCK_WIDTH + SLOT_WIDTH; // a level's reference {pool block, slot}
localparam PTRS_WIDTH = SIDE_BLOCKS * BLOCK_WIDTH;
localparam POOL_WIDTH = BLOCK_WIDTH + LO_WIDTH;  // a level's address in the pool
localparam HEAD_WIDTH = PTRS_WIDTH + LEVELS * TAG_BITS + TOP_N * CE_WIDTH + NC_WIDTH + NL_WIDTH + LEVELS;
localparam NL_LSB = LEVELS;
localparam NC_LSB = LEVELS + NL_WIDTH;
localparam CACHE_LSB = NC_LSB + NC_WIDTH;
localparam TAGS_LSB = CACHE_LSB + TOP_N * CE_WIDTH;
localparam PTRS_LSB = TAGS_LSB + LEVELS * TAG_BITS;
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
    if (BLOCK_LEVELS < 2 || BLOCK_LEVELS > LEVELS || (BLOCK_LEVELS & (BLOCK_LEVELS - 1)) != 0
            || LEVEL_BLOCKS < 2 || (LEVEL_BLOCKS & (LEVEL_BLOCKS - 1)) != 0) begin
        $error("price_levels: BLOCK_LEVELS a power of two in 2..LEVELS, LEVEL_BLOCKS a power of two >= 2");
        $finish;
    end
end

localparam [2:0] S_CLEAR = 3'd0, S_IDLE = 3'd1, S_DECIDE = 3'd2, S_SCAN = 3'd3,
                 S_REFILL = 3'd5,  // a refill's first cycle: which slots to read, from head_work
                 S_FINISH = 3'd6;  // a scan's last cycle: its outcome written, and done
reg [2:0] state;
// state == S_DECIDE, and state == S_FINISH, registered from state_next: done is one
// LUT of three flip-flops (with need_scan)
reg       deciding, finishing;
reg       cmp_ready_q;  // cmp_ready, registered (see state_next)
reg       port_read;    // the head and level RAMs read this cycle (the level RAM also on scan_read)
// a scan reads a level this cycle (in S_SCAN, while scan_next_one != 0, and in the S_FINISH after a
// price found before the last): a flip-flop, set from what scan_next_one will be, as it is the
// level port's read enable
reg       scan_read;
// after rst: the head words cleared and the pool's blocks put on the free list, one a cycle each
localparam CLEAR_COUNT = BOOKS > LEVEL_BLOCKS ? BOOKS : LEVEL_BLOCKS;
localparam CLEAR_WIDTH = $clog2(CLEAR_COUNT) + 1;
reg [CLEAR_WIDTH-1:0] clear_index;

// Sums in 15-bit chunks: each chunk is summed for both carries in, and the carry out of the
// chunks below chooses, so the longest carry chain is 16 bits (four CARRY4 with the carry out)
// whatever the width (a level's size is 64 bits, its order count 32), and a sum keeps within a
// cycle behind the read data it adds to. a + b + 1 is a - ~b: one subtract, its carry in set.
// sum_parts gives each chunk's two sums, {carry in 1, carry in 0}, 16 bits each with the carry
// out; sum_pick chooses among them: the choice can follow in the next cycle, from registers.
localparam SUM_CHUNKS = ((SIZE_WIDTH > COUNT_WIDTH ? SIZE_WIDTH : COUNT_WIDTH) + 14) / 15;
localparam SUM_WIDTH = SUM_CHUNKS * 15;
localparam PARTS_WIDTH = SUM_CHUNKS * 32;
function [PARTS_WIDTH-1:0] sum_parts;
    input [SUM_WIDTH-1:0] a, b;
    integer k;
    begin
        for (k = 0; k < SUM_CHUNKS; k = k + 1) begin
            sum_parts[32*k +: 16] = {1'b0, a[15*k +: 15]} + {1'b0, b[15*k +: 15]};
            sum_parts[32*k + 16 +: 16] = {1'b0, a[15*k +: 15]} - {1'b1, ~b[15*k +: 15]};
        end
    end
endfunction

function [SUM_WIDTH-1:0] sum_pick;
    input [PARTS_WIDTH-1:0] parts;
    input carry_in;
    reg carry;
    reg [15:0] sum;
    integer k;
    begin
        carry = carry_in;
        for (k = 0; k < SUM_CHUNKS; k = k + 1) begin
            sum = parts[32*k + (carry ? 16 : 0) +: 16];
            sum_pick[15*k +: 15] = sum[14:0];
            carry = sum[15];
        end
    end
endfunction

// the parts of a level's size (SIZE_WIDTH bits) plus, or less (subtract = 1), an order's
// 32-bit shares: sum_pick with carry in = subtract
function [PARTS_WIDTH-1:0] size_parts;
    input [SIZE_WIDTH-1:0] size;
    input [31:0] shares;
    input subtract;
    begin
        size_parts = sum_parts({{SUM_WIDTH-SIZE_WIDTH{1'b0}}, size},
                               {{SUM_WIDTH-32{1'b0}}, shares} ^ {SUM_WIDTH{subtract}});
    end
endfunction

function [SIZE_WIDTH-1:0] size_sum;
    input [SIZE_WIDTH-1:0] size;
    input [31:0] shares;
    input subtract;
    reg [SUM_WIDTH-1:0] sum;
    begin
        sum = sum_pick(size_parts(size, shares, subtract), subtract);
        size_sum = sum[SIZE_WIDTH-1:0];
    end
endfunction

// the parts of a level's order count less `down` (0 or 1): sum_pick with carry in = one more
function [PARTS_WIDTH-1:0] count_parts;
    input [COUNT_WIDTH-1:0] count;
    input down;
    begin
        count_parts = sum_parts({{SUM_WIDTH-COUNT_WIDTH{1'b0}}, count}, {SUM_WIDTH{down}});
    end
endfunction

// a level after one more order of `shares` at it
function [LEVEL_WIDTH-1:0] level_plus;
    input [LEVEL_WIDTH-1:0] level;
    input [31:0] shares;
    reg [SUM_WIDTH-1:0] count;
    begin
        count = sum_pick(count_parts(level[COUNT_LSB +: COUNT_WIDTH], 1'b0), 1'b1);
        level_plus = level;
        level_plus[SHARES_LSB +: SIZE_WIDTH] = size_sum(level[SHARES_LSB +: SIZE_WIDTH], shares, 1'b0);
        level_plus[COUNT_LSB +: COUNT_WIDTH] = count[COUNT_WIDTH-1:0];
    end
endfunction

// A price better than another on this side. The two 16-bit halves are compared side by side
// and combined: one 32-bit compare would be a carry chain twice as long.
function better;
    input sell;
    input [31:0] a, b;
    reg hi_less, hi_more, lo_less, lo_more, hi_same;
    begin
        hi_less = a[31:16] < b[31:16];
        hi_more = a[31:16] > b[31:16];
        hi_same = a[31:16] == b[31:16];
        lo_less = a[15:0] < b[15:0];
        lo_more = a[15:0] > b[15:0];
        better = sell ? hi_less || (hi_same && lo_less) : hi_more || (hi_same && lo_more);
    end
endfunction

// a price's tag: its bytes XORed, so the neighbouring prices of one side differ in it
function [TAG_BITS-1:0] price_tag;
    input [31:0] price;
    begin
        price_tag = price[7:0] ^ price[15:8] ^ price[23:16] ^ price[31:24];
    end
endfunction

// the slots of the first count cache entries (each slot compared, not indexed: a write at a
// variable bit index is built on a 32-bit negation of the index)
function [LEVELS-1:0] slots_of;
    input [TOP_N*CE_WIDTH-1:0] entries;
    input [NC_WIDTH-1:0] count;
    integer k, v;
    begin
        slots_of = 0;
        for (k = 0; k < TOP_N; k = k + 1)
            for (v = 0; v < LEVELS; v = v + 1)
                if (k < count && entries[k*CE_WIDTH + SLOT_LSB +: SLOT_WIDTH] == v[SLOT_WIDTH-1:0])
                    slots_of[v] = 1'b1;
    end
endfunction

// The lowest set bit, one-hot: in groups of 4 bits and of 4 groups, each output bit ANDs three
// small "nothing set below" tests side by side. One test over all the bits below each bit is
// mapped as a chain that grows with LEVELS.
localparam ONE_PAD = (LEVELS + 15) / 16 * 16;
function [LEVELS-1:0] lowest_one;
    input [LEVELS-1:0] bits;
    reg [ONE_PAD-1:0] padded, one;
    reg [ONE_PAD/4-1:0] group_any;
    reg [ONE_PAD/16-1:0] super_any;
    integer g, k;
    begin
        padded = 0;
        padded[LEVELS-1:0] = bits;
        for (g = 0; g < ONE_PAD/4; g = g + 1)
            group_any[g] = padded[4*g +: 4] != 0;
        for (g = 0; g < ONE_PAD/16; g = g + 1)
            super_any[g] = group_any[4*g +: 4] != 0;
        for (g = 0; g < ONE_PAD/4; g = g + 1)
            for (k = 0; k < 4; k = k + 1)
                one[4*g + k] = padded[4*g + k] && (padded[4*g +: 4] & ~(4'b1111 << k)) == 0
                               && (group_any[4*(g/4) +: 4] & ~(4'b1111 << (g%4))) == 0
                               && (super_any & ~({ONE_PAD/16{1'b1}} << (g/4))) == 0;
        lowest_one = one[LEVELS-1:0];
    end
endfunction

// a one-hot bit's position
function [SLOT_WIDTH-1:0] slot_of;
    input [LEVELS-1:0] one;
    integer k;
    begin
        slot_of = 0;
        for (k = 0; k < LEVELS; k = k + 1)
            slot_of = slot_of | (one[k] ? k[SLOT_WIDTH-1:0] : {SLOT_WIDTH{1'b0}});
    end
endfunction

// the side's blocks that hold any of `bits`
function [SIDE_BLOCKS-1:0] blocks_any;
    input [LEVELS-1:0] bits;
    integer k;
    begin
        for (k = 0; k < SIDE_BLOCKS; k = k + 1)
            blocks_any[k] = bits[k*BLOCK_LEVELS +: BLOCK_LEVELS] != 0;
    end
endfunction

// the lowest block that holds any of `bits`, one-hot (none: 0): beside lowest_one(bits), not behind it
function [SIDE_BLOCKS-1:0] first_block;
    input [LEVELS-1:0] bits;
    reg [LEVELS-1:0] padded;
    begin
        padded = 0;
        padded[SIDE_BLOCKS-1:0] = blocks_any(bits);
        padded = lowest_one(padded);
        first_block = padded[SIDE_BLOCKS-1:0];
    end
endfunction

// the pool block of the side's block `one` (one-hot; none: 0)
function [BLOCK_WIDTH-1:0] ptr_of;
    input [PTRS_WIDTH-1:0] ptrs;
    input [SIDE_BLOCKS-1:0] one;
    integer k;
    begin
        ptr_of = 0;
        for (k = 0; k < SIDE_BLOCKS; k = k + 1)
            ptr_of = ptr_of | (ptrs[k*BLOCK_WIDTH +: BLOCK_WIDTH] & {BLOCK_WIDTH{one[k]}});
    end
endfunction

// the side's block that holds `slot`, one-hot (compared, not indexed)
function [SIDE_BLOCKS-1:0] block_of;
    input [SLOT_WIDTH-1:0] slot;
    integer k;
    begin
        for (k = 0; k < SIDE_BLOCKS; k = k + 1)
            block_of[k] = ({{32-SLOT_WIDTH{1'b0}}, slot} >> LO_WIDTH) == k;
    end
endfunction

// head RAM read data (P0, P1's reads again): the array's word, and the word written as it was
// read (sdp_ram WRITE_FIRST), apart
wire [HEAD_WIDTH-1:0]  head_read_word, head_written_word;
// whether the word written is the data: a copy of the compare for each quarter of the word, placed
// by the quarter's multiplexers into c_head (sdp_ram SELECT_COPIES)
localparam HEAD_COPIES = 4;
localparam HEAD_COPY_BITS = (HEAD_WIDTH + HEAD_COPIES - 1) / HEAD_COPIES;
wire [HEAD_COPIES-1:0] head_read_written;
// level RAM read data (P0, P1's reads again, and a scan's levels), and apart: the array's word,
// and the word written as it was read (level_read_written: that one is the data)
wire [LEVEL_WIDTH-1:0] level_read_word, level_written_word;
wire                   level_read_written;

// ---- P0: the request's side read ----

reg                  p0_valid, p0_fresh;  // P0 holds a request; its data in the RAMs' output are current
wire [SLOT_WIDTH-1:0]  p0_slot  = p0_ref[SLOT_WIDTH-1:0];
wire [BLOCK_WIDTH-1:0] p0_block = p0_ref[SLOT_WIDTH +: BLOCK_WIDTH];

// ---- P1: the request compared with its side as read ----

reg                  c_valid, c_fresh;  // P1 holds a request; its side's data (c_head, c_level) are current
reg                  c_rd_pending;      // P1's side read again arrives in the RAMs' output
reg                  c_copies;          // !c_valid || c_rd_pending: P1 copies the RAMs' output
reg [HEAD_WIDTH-1:0] c_head;            // the side's head word, copied from the RAM's output
// The side's level: the array's word copied from the RAM's output with nothing in front, beside
// the words that replace it (P2's write forwarded; the word written as it was read) and whether
// they do, chosen behind the flip-flops: the path from the RAM's clock-to-output ends at
// flip-flops the placer can put beside it, and the forwarding choice sets one flip-flop, not the
// select of a level's width of multiplexers.
reg [LEVEL_WIDTH-1:0] c_level_read, c_level_written, c_level_forwarded;
reg                   c_level_new, c_level_fwd;
wire [LEVEL_WIDTH-1:0] c_level = c_level_fwd ? c_level_forwarded : c_level_new ? c_level_written : c_level_read;
reg                  c_add, c_remove;
reg [LOCATE_WIDTH:0] c_book;
reg [31:0]           c_price, c_shares;
reg [TAG_BITS-1:0]   c_tag;  // price_tag(c_price)
reg [SLOT_WIDTH-1:0] c_slot;
reg [BLOCK_WIDTH-1:0] c_block;  // a reduce's level: its pool block (c_slot: its slot)
// P1 holds a request of P2's book (c_book == op_book), and at P2's price too (c_price == op_price):
// registered with them, off the stall path
reg                  c_same_book, c_same_level;
wire c_sell = c_book[0];

wire [LEVELS-1:0]          c_bitmap  = c_head[LEVELS-1:0];
wire [NL_WIDTH-1:0]        c_nlevels = c_head[NL_LSB +: NL_WIDTH];
wire [NC_WIDTH-1:0]        c_ncached = c_head[NC_LSB +: NC_WIDTH];
wire [TOP_N*CE_WIDTH-1:0]  c_cache   = c_head[CACHE_LSB +: TOP_N*CE_WIDTH];
wire [LEVELS*TAG_BITS-1:0] c_tags    = c_head[TAGS_LSB +: LEVELS*TAG_BITS];
wire [PTRS_WIDTH-1:0]      c_ptrs    = c_head[PTRS_LSB +: PTRS_WIDTH];

// Masks, not indices: a position encoded and decoded again would put a priority encoder and
// wide multiplexers behind the compares. Cache entries are chosen by comparing a loop index
// with the wanted position, never by a variable part-select: a part-select at index*CE_WIDTH
// becomes a barrel shifter across the whole cache, in logic and in synthesis time.
reg [LEVELS-1:0]       c_tag_match;
reg [TOP_N-1:0]        c_hit_at;    // one-hot: the cache entry holding c_price (add) or c_slot (reduce)
reg [TOP_N-1:0]        c_ahead;     // the cached levels better than c_price: a prefix, the cache is sorted
reg [TOP_N-1:0]        c_from_hit;  // the entries at and after the hit
reg [TOP_N*LEVEL_WIDTH-1:0] c_plus; // each cached level with the add's order at it
reg [SLOT_WIDTH-1:0]   c_hit_slot;  // the hit entry's slot, picked here: P2's write address is not behind the pick
reg [BLOCK_WIDTH-1:0]  c_hit_ptr;   // ... and its pool block: each entry's found beside the compares
reg                    c_seen_hit;
integer m;
always @* begin
    for (m = 0; m < LEVELS; m = m + 1)
        c_tag_match[m] = c_tags[m*TAG_BITS +: TAG_BITS] == c_tag;
    c_seen_hit = 1'b0;
    c_hit_slot = 0;
    c_hit_ptr = 0;
    for (m = 0; m < TOP_N; m = m + 1) begin
        c_hit_at[m] = m < c_ncached && (c_add ? c_cache[m*CE_WIDTH + PRICE_LSB +: PRICE_WIDTH] == c_price
                                              : c_cache[m*CE_WIDTH + SLOT_LSB +: SLOT_WIDTH] == c_slot);
        c_ahead[m] = m < c_ncached && better(c_sell, c_cache[m*CE_WIDTH + PRICE_LSB +: PRICE_WIDTH], c_price);
        c_seen_hit = c_seen_hit || c_hit_at[m];
        c_hit_slot = c_hit_slot | (c_cache[m*CE_WIDTH + SLOT_LSB +: SLOT_WIDTH] & {SLOT_WIDTH{c_hit_at[m]}});
        c_hit_ptr = c_hit_ptr | (ptr_of(c_ptrs, block_of(c_cache[m*CE_WIDTH + SLOT_LSB +: SLOT_WIDTH])) & {BLOCK_WIDTH{c_hit_at[m]}});
        c_from_hit[m] = c_seen_hit;
        c_plus[m*LEVEL_WIDTH +: LEVEL_WIDTH] = level_plus(c_cache[m*CE_WIDTH +: LEVEL_WIDTH], c_shares);
    end
end
wire c_hit = c_hit_at != 0;
// the uncached levels that may hold c_price: an add worse than every cached level reads only these
wire [LEVELS-1:0] c_candidates = c_bitmap & ~slots_of(c_cache, c_ncached) & c_tag_match;
wire c_gone = c_remove && c_level[COUNT_LSB +: COUNT_WIDTH] == 1;
// The pool: a new level takes the lowest free slot; its block is in use when another of its slots
// is, and then the level goes in the block's pool block, else in the pool's next free block. A
// level that goes frees its pool block when no other slot of its block is live.
wire [SIDE_BLOCKS-1:0] c_new_block  = first_block(~c_bitmap);
wire                   c_new_in_use = (c_new_block & blocks_any(c_bitmap)) != 0;
wire [BLOCK_WIDTH-1:0] c_new_ptr    = ptr_of(c_ptrs, c_new_block);
reg  [LEVELS-1:0]      c_others;  // the live slots of c_slot's block but c_slot
integer n;
always @*
    for (n = 0; n < LEVELS; n = n + 1)
        c_others[n] = c_bitmap[n] && (n >> LO_WIDTH) == ({{32-SLOT_WIDTH{1'b0}}, c_slot} >> LO_WIDTH)
                      && n != {{32-SLOT_WIDTH{1'b0}}, c_slot};
wire c_frees = c_gone && c_others == 0;
// An add worse than every cached level (uncached levels exist, so the cache is full: its last
// entry is the worst) whose tag uncached levels share searches those; a cached level that
// empties on a side with levels beyond the cache refills the cache. The decision is registered
// whole (need_scan), so P2's done starts at flip-flops, and as the request is taken it sets
// scans, from which (with finishing) the stall of every stage behind P2 starts (waits).
// (an add strictly below the cache's worst is in no cache entry: c_below_cache implies !c_hit)
wire c_scan_add    = c_nlevels > TOP_N;
wire c_below_cache = better(c_sell, c_cache[(TOP_N-1)*CE_WIDTH + PRICE_LSB +: PRICE_WIDTH], c_price);
wire c_scan_remove = c_hit && c_gone && c_nlevels > {{NL_WIDTH-NC_WIDTH{1'b0}}, c_ncached};
wire c_need_scan   = c_add ? c_scan_add && c_below_cache && c_candidates != 0 : c_scan_remove;
// The level read with the reduce's shares and order off it: each chunk's sums here, the
// carries choose in P2 (minus), so a carry chain is all of P1's path.
wire [PARTS_WIDTH-1:0] c_minus_size = size_parts(c_level[SHARES_LSB +: SIZE_WIDTH], c_shares, 1'b1);
wire [PARTS_WIDTH-1:0] c_minus_count = count_parts(c_level[COUNT_LSB +: COUNT_WIDTH], c_remove);

// ---- P2: the registered outcome written ----

reg                  op_add;
reg [LOCATE_WIDTH:0] op_book;
reg [31:0]           op_price, op_shares;
reg [TAG_BITS-1:0]   op_tag;
reg [SLOT_WIDTH-1:0] op_slot;
reg [BLOCK_WIDTH-1:0] op_block;  // a reduce's level: its pool block
wire op_sell = op_book[0];
reg [HEAD_WIDTH-1:0]  head_q;   // the side's head as P1 read it
reg [TOP_N-1:0]       hit_at, ahead, from_hit;
reg [SLOT_WIDTH-1:0]  hit_slot;
reg [BLOCK_WIDTH-1:0] hit_ptr;
reg [TOP_N*LEVEL_WIDTH-1:0] plus;
reg [LEVELS-1:0]      candidates;
reg                   hit, gone, full, cache_room;
// an add of a new price better than a cached level (or with room in the cache) to a side not full:
// decided in P1, so P2's cache insert waits only on the scan and the pool (cache_insert)
reg                   new_into_cache;
reg                   need_scan;
reg [LEVELS-1:0]      free_one;   // the lowest free slot, one-hot (an add's scan too: it leaves the bitmap as read)
reg [PRICE_WIDTH-1:0] minus_price;
reg [PARTS_WIDTH-1:0] minus_size, minus_count;
wire [SUM_WIDTH-1:0]  minus_size_sum = sum_pick(minus_size, 1'b1);
wire [SUM_WIDTH-1:0]  minus_count_sum = sum_pick(minus_count, 1'b0);
wire [LEVEL_WIDTH-1:0] minus = {minus_count_sum[COUNT_WIDTH-1:0], minus_size_sum[SIZE_WIDTH-1:0], minus_price};
reg [NL_WIDTH-1:0]    nlevels_up, nlevels_down;
reg [NC_WIDTH-1:0]    ncached_up, ncached_down;

reg [SLOT_WIDTH-1:0]     free_slot;  // free_one's slot, encoded in P1: the write address is not behind an encoder
reg [SIDE_BLOCKS-1:0]    new_block_one;  // free_slot's block, one-hot
reg                      new_in_use;     // ... holds live levels: its pool block is new_ptr
reg [BLOCK_WIDTH-1:0]    new_ptr;
reg                      frees;          // a reduce whose level goes and leaves its block empty
wire [BLOCK_WIDTH-1:0]   pool_next;      // the pool's next free block (valid while pool_any)
reg                      pool_any;
wire [BLOCK_WIDTH-1:0]   new_block = new_in_use ? new_ptr : pool_next;  // a new level's pool block
wire                     no_room = full || (!new_in_use && !pool_any);  // a new level is refused
wire                     cache_insert = new_into_cache && !need_scan && (new_in_use || pool_any);
wire [PTRS_WIDTH-1:0]    ptrs = head_q[PTRS_LSB +: PTRS_WIDTH];
wire [LEVELS-1:0]        bitmap  = head_q[LEVELS-1:0];
wire [NL_WIDTH-1:0]      nlevels = head_q[NL_LSB +: NL_WIDTH];
wire [NC_WIDTH-1:0]      ncached = head_q[NC_LSB +: NC_WIDTH];
wire [TOP_N*CE_WIDTH-1:0] cache  = head_q[CACHE_LSB +: TOP_N*CE_WIDTH];
wire [LEVELS*TAG_BITS-1:0] tags  = head_q[TAGS_LSB +: LEVELS*TAG_BITS];

reg [TOP_N*CE_WIDTH-1:0] cache_next;
reg [NC_WIDTH-1:0]     ncached_next;
reg [NL_WIDTH-1:0]     nlevels_next;
reg [LEVELS-1:0]       bitmap_next;
reg [LEVELS*TAG_BITS-1:0] tags_next;
reg [PTRS_WIDTH-1:0]   ptrs_next;
reg                    add_ok, level_we, alloc;
reg [REF_WIDTH-1:0]    level_ref;
reg [LEVEL_WIDTH-1:0]  level_wdata, level_new;
reg [CE_WIDTH-1:0]     entry;
integer i;

always @* begin
    cache_next = cache;
    ncached_next = ncached;
    nlevels_next = nlevels;
    bitmap_next = bitmap;
    tags_next = tags;
    // an add writes the pool's next block as the pointer of free_slot's block when that is not in
    // use, whatever it decides: the pointer of a block not in use is never read
    ptrs_next = ptrs;
    if (op_add)
        for (i = 0; i < SIDE_BLOCKS; i = i + 1)
            if (new_block_one[i] && !new_in_use)
                ptrs_next[i*BLOCK_WIDTH +: BLOCK_WIDTH] = pool_next;
    add_ok = 1'b1;
    level_we = 1'b0;
    alloc = 1'b0;
    // the level written: chosen from registers by the kind and the hit alone, not by the decision
    // (a scan or a refusal writes no level)
    level_ref = !op_add ? {op_block, op_slot} : hit ? {hit_ptr, hit_slot} : {new_block, free_slot};
    level_wdata = minus;
    level_new = {{COUNT_WIDTH-1{1'b0}}, 1'b1, {SIZE_WIDTH-32{1'b0}}, op_shares, op_price};
    entry = 0;

    if (op_add) begin
        if (hit) begin
            for (i = 0; i < TOP_N; i = i + 1)
                if (hit_at[i])
                    entry = {cache[i*CE_WIDTH + SLOT_LSB +: SLOT_WIDTH], plus[i*LEVEL_WIDTH +: LEVEL_WIDTH]};
            for (i = 0; i < TOP_N; i = i + 1)
                if (hit_at[i])
                    cache_next[i*CE_WIDTH +: CE_WIDTH] = entry;
            level_we = 1'b1;
            level_wdata = entry[LEVEL_WIDTH-1:0];
        end else if (need_scan) begin
            // nothing is written until the scan ends
        end else if (no_room) begin
            add_ok = 1'b0;
        end else begin
            level_we = 1'b1;
            alloc = !new_in_use;
            level_wdata = level_new;
            bitmap_next = bitmap | free_one;
            for (i = 0; i < LEVELS; i = i + 1)
                if (free_one[i])
                    tags_next[i*TAG_BITS +: TAG_BITS] = op_tag;
            nlevels_next = nlevels_up;
        end
    end else begin
        level_we = 1'b1;
        if (gone) begin
            for (i = 0; i < LEVELS; i = i + 1)
                if (i == {{32-SLOT_WIDTH{1'b0}}, op_slot})
                    bitmap_next[i] = 1'b0;
            nlevels_next = nlevels_down;
        end
        if (hit && gone) begin
            for (i = 0; i < TOP_N; i = i + 1)
                if (from_hit[i])
                    cache_next[i*CE_WIDTH +: CE_WIDTH] =
                        i + 1 < TOP_N ? cache[((i+1) % TOP_N)*CE_WIDTH +: CE_WIDTH] : {CE_WIDTH{1'b0}};
            ncached_next = ncached_down;
        end else if (hit) begin
            for (i = 0; i < TOP_N; i = i + 1)
                if (hit_at[i]) begin
                    cache_next[i*CE_WIDTH + SHARES_LSB +: SIZE_WIDTH] = minus[SHARES_LSB +: SIZE_WIDTH];
                    cache_next[i*CE_WIDTH + COUNT_LSB +: COUNT_WIDTH] = minus[COUNT_LSB +: COUNT_WIDTH];
                end
        end
    end
    // a new level better than a cached one, or with room in the cache: entries ahead of it stay,
    // it comes next, the rest move down one (apart from the chain above, which it excludes)
    if (cache_insert) begin
        for (i = 0; i < TOP_N; i = i + 1)
            if (!ahead[i])
                cache_next[i*CE_WIDTH +: CE_WIDTH] = i == 0 || ahead[i > 0 ? i - 1 : 0] ? {free_slot, level_new}
                                                   : cache[(i > 0 ? i - 1 : 0)*CE_WIDTH +: CE_WIDTH];
        if (cache_room)
            ncached_next = ncached_up;
    end
end

// ---- a scan: the side's uncached levels read one a cycle ----
// Each level is registered as it arrives and compared a cycle later, so a compare and the best
// level's 160 enables never follow the level RAM's read multiplexers in one cycle; the outcome
// is registered (the price found, or the best level so far) and the head and level are written
// in S_FINISH, the cycle after the last level was compared (or two after the price was found).

reg [HEAD_WIDTH-1:0] head_work;  // head under change while scanning
reg                  scan_find;  // 1: look for op_price; 0: best uncached level
reg [LEVELS-1:0]     scan_pending;  // the slots still to read, past scan_next_one
reg [LEVELS-1:0]     scan_next_one; // the slot read next, one-hot (none: 0), chosen a cycle ahead
reg [SLOT_WIDTH-1:0] scan_next;     // ... and encoded then: the read address is not behind an encoder
reg [BLOCK_WIDTH-1:0] scan_ptr;     // ... and its block's pool block, chosen then too
reg                  scan_rd_valid;  // a level read arrives (level_read_word) ...
reg [SLOT_WIDTH-1:0] scan_rd_slot;
reg [BLOCK_WIDTH-1:0] scan_rd_ptr;
reg                  scan_lv_valid;  // ... and is registered, to be compared
reg [SLOT_WIDTH-1:0] scan_lv_slot;
reg [BLOCK_WIDTH-1:0] scan_lv_ptr;
reg [LEVEL_WIDTH-1:0] scan_lv;
reg                  matched;    // the price was found: at match_slot, match_level with the order
reg [SLOT_WIDTH-1:0] match_slot;
reg [BLOCK_WIDTH-1:0] match_ptr;
reg [LEVEL_WIDTH-1:0] match_level;
reg                  best_valid;
reg [CE_WIDTH-1:0]   best;

wire scan_match = scan_lv_valid && scan_find && scan_lv[PRICE_LSB +: PRICE_WIDTH] == op_price;
wire scan_better = scan_lv_valid && !scan_find
                   && (!best_valid || better(op_sell, scan_lv[PRICE_LSB +: PRICE_WIDTH],
                                             best[PRICE_LSB +: PRICE_WIDTH]));

wire [NL_WIDTH-1:0]      work_nlevels = head_work[NL_LSB +: NL_WIDTH];
wire [NC_WIDTH-1:0]      work_ncached = head_work[NC_LSB +: NC_WIDTH];
wire                     work_full    = work_nlevels == LEVELS;
wire                     finish_room  = !work_full && (new_in_use || pool_any);  // a new level fits

reg [HEAD_WIDTH-1:0] head_final;  // head_work with the scan's outcome
integer j;
always @* begin
    head_final = head_work;
    if (scan_find) begin
        if (!matched && finish_room) begin
            head_final[LEVELS-1:0] = head_work[LEVELS-1:0] | free_one;
            head_final[NL_LSB +: NL_WIDTH] = work_nlevels + 1'b1;
            for (j = 0; j < LEVELS; j = j + 1)
                if (free_one[j])
                    head_final[TAGS_LSB + j*TAG_BITS +: TAG_BITS] = op_tag;
        end
    end else begin
        for (j = 0; j < TOP_N; j = j + 1)
            if (j == {{32-NC_WIDTH{1'b0}}, work_ncached})
                head_final[CACHE_LSB + j*CE_WIDTH +: CE_WIDTH] = best;
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

// ---- the two RAMs: one write port and one synchronous read port each ----
// Every write and read below is muxed from the states into one address, data
// and enable, the shape Yosys maps to block RAM or UltraRAM. A decision is
// written as the caller takes it; a scan's, in S_FINISH.

assign req_ready = state != S_CLEAR;
wire                  finish_ok   = !scan_find || matched || finish_room;
wire [REF_WIDTH-1:0]  finish_ref  = matched ? {match_ptr, match_slot} : {new_block, free_slot};
wire   decide_taken = deciding && !need_scan;  // S_DECIDE's outcome written and taken
wire   done     = decide_taken || finishing;
assign dec_ok   = deciding ? add_ok : finish_ok;
assign dec_slot = deciding ? level_ref : finish_ref;
wire   p2_busy  = state != S_IDLE && state != S_CLEAR;
assign cmp_ready = cmp_ready_q;

wire [LEVELS-1:0]     scan_then_one = lowest_one(scan_pending);
// a scan ends: the price was found (registered: the compare is not in front of state), or every
// slot is read and the last level read is compared now
wire scan_ends = matched || (scan_next_one == 0 && scan_pending == 0 && !scan_rd_valid);
wire finish_write = finishing && scan_find && (matched || finish_room);
// P1 reads its side again when its data are stale and no read of them is arriving and P2 holds
// none of its side (that one's write is forwarded, and the data read after it), then P0 when
// its data are stale, unless a scan has the level port. The port's address is chosen from
// registers, not from whether a request comes: a request that comes while P0 or P1 reads finds
// its data stale and reads them again. Whether P1 and P0 want to read are flip-flops too, set
// from their state as it will be (c_wants_read_next; p0_valid_next, p0_fresh_next): the read addresses,
// which reach every block of the level pool, pass two multiplexers behind flip-flops.
reg  c_wants_read;   // c_valid && !c_fresh && !c_rd_pending, P2 holding none of its side
reg  p0_wants_read;  // p0_valid && !p0_fresh
wire c_reread      = port_read && c_wants_read && !scan_read;
wire p0_reread     = port_read && p0_wants_read && !c_wants_read && !scan_read;
wire req_read      = port_read && !c_wants_read && !p0_wants_read && !scan_read;  // the offered request's side

// P2's state, and P1's, as they will be after this cycle: cmp_ready is registered from them, so
// the stall that starts at P1 and reaches every stage behind it starts at a flip-flop, as P2's
// does (waits).
reg [2:0] state_next;
always @* begin
    state_next = state;
    if (done)
        state_next = S_IDLE;
    if (cmp_take)  // P1 -> P2, as the request before is taken or P2 is empty
        state_next = S_DECIDE;
    case (state)
    S_CLEAR:
        if ({{32-CLEAR_WIDTH{1'b0}}, clear_index} == CLEAR_COUNT - 1)
            state_next = S_IDLE;
    S_DECIDE:
        // a refill reads the uncached levels of the head after the change: found a cycle later,
        // from head_work, not behind the change itself
        if (need_scan)
            state_next = op_add ? S_SCAN : S_REFILL;
    S_REFILL:
        state_next = S_SCAN;
    S_SCAN:
        if (scan_ends)
            state_next = S_FINISH;
    default: ;
    endcase
    if (rst)
        state_next = S_CLEAR;
end
wire p2_busy_next     = !rst && (cmp_take || (p2_busy && !done));  // state_next's busy states, not behind it
wire c_valid_next     = !rst && (rd_take || (c_valid && !cmp_take));
// P1's data are copied while P1 is empty or taken (whether P0's request moves in or not: an empty
// P1's data are nobody's), or as its read again arrives: the enable of the head word's and level's
// flip-flops is a flip-flop (c_copies) or P2's stall, not the caller's stall of P0 behind it
wire c_fresh_next     = rd_take ? p0_fresh : c_rd_pending || (c_fresh && !c_reread);
wire c_rd_pending_next = c_reread;
// Whether the request in P0, or the one entering it, is of P2's book and price, or of P1's: P2
// writes a live level (a reduce's, an add's that hits, a scan's match) of its book at its price,
// and a reduce's level is live, so its level is the one P2 writes exactly when its book and price
// are P2's (a book holds a price at one level). Compares of registers, the handshakes choosing.
wire req_book_c   = req_book == c_book;
wire req_book_op  = req_book == op_book;
wire p0_book_c    = p0_book == c_book;
wire p0_book_op   = p0_book == op_book;
wire req_level_c  = req_book_c && req_price == c_price;
wire req_level_op = req_book_op && req_price == op_price;
wire p0_level_c   = p0_book_c && p0_price == c_price;
wire p0_level_op  = p0_book_op && p0_price == op_price;
// p0_same: P0's book is P2's, p0_same_level: and its price, registered from both as they will be
// (a request enters P0 as the caller's L register takes it), so neither forwarding choice, nor
// the enables of P1's flip-flops, follows a compare
reg  p0_same, p0_same_level;
wire p0_same_next = req_valid ? (cmp_take ? req_book_c : req_book_op) : (cmp_take ? p0_book_c : p0_book_op);
// P1's and P2's books and prices as they will be: the compares made, the handshakes only choose
wire c_same_book_next  = c_valid_next && (!rd_take ? c_same_book : cmp_take ? p0_book_c : p0_same);
wire c_same_level_next = c_valid_next && (!rd_take ? c_same_level : cmp_take ? p0_level_c : p0_same_level);
wire c_wants_read_next = c_valid_next && !c_fresh_next && !c_rd_pending_next && !(p2_busy_next && c_same_book_next);
assign cmp_ready_next = c_valid_next && c_fresh_next && !(p2_busy_next && c_same_book_next);
// P2 waits while it holds a request that scans (scans: set as P1's is taken, from P1's compares),
// until the scan's last cycle; the caller's forecast of it (waits_next, which its read enables
// follow) leaves out a request entering P2 that scans, so the forecast is not behind P1's compares
reg    scans;
assign waits          = scans && !finishing;
assign waits_next     = waits && !(state == S_SCAN && scan_ends);

wire                         head_we = state == S_CLEAR || done;
// (a sweep longer than BOOKS, for the free list, clears the head words again: no harm)
wire [LOCATE_WIDTH:0]        head_waddr = state == S_CLEAR ? clear_index[LOCATE_WIDTH:0] : op_book;
// P2's head word as written (a decision's or a scan's): forwarded into P1 without the sweep's zeros
wire [HEAD_WIDTH-1:0]        head_decided = finishing ? head_final
                                          : {ptrs_next, tags_next, cache_next, ncached_next, nlevels_next, bitmap_next};
wire [HEAD_WIDTH-1:0]        head_wdata = state == S_CLEAR ? {HEAD_WIDTH{1'b0}} : head_decided;
// The ports read P1's or P0's data again (or a scan's level), else the request's: which, and the
// other address, come from registers, so the request's address passes one multiplexer.
wire                         head_re = port_read;
wire                         head_reread = c_wants_read || p0_wants_read;
wire [LOCATE_WIDTH:0]        head_reread_addr = c_wants_read ? c_book : p0_book;
wire [LOCATE_WIDTH:0]        head_raddr = head_reread ? head_reread_addr : req_book;

wire                         level_ram_we = (decide_taken && level_we) || finish_write;
wire [REF_WIDTH-1:0]         level_wref = deciding ? level_ref : finish_ref;
wire [LEVEL_WIDTH-1:0]       level_ram_wdata = deciding ? level_wdata : matched ? match_level : level_new;
wire                         level_re = port_read || scan_read;  // head_re or a scan's
// a level's pool address: {pool block, its slot's place in the block}; P0's and P1's requests' levels
wire [POOL_WIDTH-1:0]        p0_pool_addr = {p0_block, p0_slot[LO_WIDTH-1:0]};
wire [POOL_WIDTH-1:0]        c_pool_addr  = {c_block, c_slot[LO_WIDTH-1:0]};
wire [POOL_WIDTH-1:0]        level_waddr = {level_wref[SLOT_WIDTH +: BLOCK_WIDTH], level_wref[LO_WIDTH-1:0]};
wire                         level_reread = scan_read || head_reread;
wire [POOL_WIDTH-1:0]        level_reread_addr = scan_read ? {scan_ptr, scan_next[LO_WIDTH-1:0]}
                                               : c_wants_read ? c_pool_addr : p0_pool_addr;
wire [POOL_WIDTH-1:0]        level_raddr = level_reread ? level_reread_addr
                                         : {req_slot[SLOT_WIDTH +: BLOCK_WIDTH], req_slot[LO_WIDTH-1:0]};

// P2's writes forwarded into P1's flip-flops, as the request in P0 moves into P1 or while the one
// in P1 waits for them: the head word when it is the request's side's (P2 writes its head word as
// it is done), the level when it is the request's (known by its book and price: p0_same_level,
// c_same_level). Whether P2's head word, when it is written, is forwarded is registered from
// c_rd_pending, p0_same and c_same_book as they will be, so P2's done alone decides it beside the
// head RAM's clock-to-output.
reg  head_forward_side;  // !c_rd_pending && (p0_same || c_same_book)
wire live_level_write = (decide_taken && (!op_add || hit)) || (finishing && scan_find && matched);
// (P2's write is forwarded as P0's request moves in when it is P0's side; P1's own side is then
// not P2's, else P1 could not be taken: so the choices need not wait on rd_take)
wire head_forward    = done && head_forward_side;
wire level_forward   = !c_rd_pending && live_level_write && (p0_same_level || c_same_level);
// P1's head word: P2's forwarded, else the word written as it was read, else the array's, chosen
// so the array's word, behind the RAM's clock-to-output, passes one multiplexer (its select and
// other input decided beside that delay, from registers)
wire [HEAD_WIDTH-1:0] head_other_word = head_forward ? head_decided : head_written_word;
reg  [HEAD_WIDTH-1:0] head_copied;  // what c_head copies
integer hb;
always @* begin
    for (hb = 0; hb < HEAD_WIDTH; hb = hb + 1)
        head_copied[hb] = head_forward || head_read_written[hb / HEAD_COPY_BITS] ? head_other_word[hb] : head_read_word[hb];
end

// P0 as it will be: its data are in the RAMs' output, current, unless a port reads anything else
// (any head read, or a scan's level read)
wire p0_valid_next    = req_valid || (p0_valid && !rd_take);
wire p0_fresh_next    = req_valid ? req_read
                      : p0_reread || (p0_fresh && !port_read && !scan_read && !(done && p0_same));

sdp_ram #(.WIDTH(HEAD_WIDTH), .DEPTH(BOOKS), .ULTRA(HEAD_ULTRA), .WRITE_FIRST(1), .READ_OLD(0), .WRITE_REG(1),
          .SELECT_COPIES(HEAD_COPIES), .ADDR_WIDTH(LOCATE_WIDTH+1)) head_ram (
    .clk(clk), .we(head_we), .waddr(head_waddr), .wdata(head_wdata),
    .re(head_re), .raddr(head_raddr),
    .read_word(head_read_word), .read_written(head_read_written), .written_word(head_written_word)
);

sdp_ram #(.WIDTH(LEVEL_WIDTH), .DEPTH(LEVEL_BLOCKS*BLOCK_LEVELS), .ULTRA(ULTRA_RAM), .WRITE_FIRST(1), .READ_OLD(0), .WRITE_REG(1),
          .SLICE_WIDTH(LEVEL_SLICE), .ADDR_WIDTH(POOL_WIDTH)) level_ram (
    .clk(clk), .we(level_ram_we), .waddr(level_waddr), .wdata(level_ram_wdata),
    .re(level_re), .raddr(level_raddr),
    .read_word(level_read_word), .read_written(level_read_written), .written_word(level_written_word)
);

// ---- the pool's free blocks ----
// A FIFO of block numbers in free_ram (a freed block written at its tail, read at its head) behind
// POOL_QUEUE registers (pool_q, pool_next its first): a new level's block is always taken from
// pool_next, a register. A freed block goes straight into pool_q while free_ram holds none (decided
// from registers), else it is registered (spill) and written to free_ram a cycle later, and pool_q
// refills from free_ram one a cycle, each block read registered before it joins (no logic behind
// the RAM's clock-to-output). Blocks are taken at most one a cycle, and a block spills only while
// pool_q and the reads in flight hold POOL_QUEUE, enough for the four takes before the first read
// of a spilled block joins; so pool_q holds a block whenever any is free (pool_any is then
// exact): which block comes next does not matter. The sweep after rst frees every block, one a cycle.
localparam POOL_QUEUE = 5;
reg [POOL_QUEUE*BLOCK_WIDTH-1:0] pool_q;
reg [2:0]             pool_n;         // blocks in pool_q
reg                   fram_rd_valid;  // a read of free_ram is in its output (free_rd) ...
reg                   pool_rd_valid;  // ... and registered (free_block): it joins pool_q
reg [BLOCK_WIDTH-1:0] free_block;
reg [BLOCK_WIDTH:0]   fram_n;         // blocks in free_ram
reg [BLOCK_WIDTH-1:0] fram_head, fram_tail;
reg                   spill;          // a freed block to write to free_ram
reg [BLOCK_WIDTH-1:0] spill_block;
reg                   pool_popped, pool_pushed;  // for the count of free blocks, a cycle later
wire [BLOCK_WIDTH-1:0] free_rd;
assign pool_next = pool_q[BLOCK_WIDTH-1:0];
// pool_q and the reads in flight below POOL_QUEUE, as compares: an adder here would put its
// carry chain in front of free_ram's read enable and the count of its blocks
wire pool_room   = pool_n < POOL_QUEUE - 2 || (pool_n == POOL_QUEUE - 2 && !(fram_rd_valid && pool_rd_valid))
                   || (pool_n == POOL_QUEUE - 1 && !fram_rd_valid && !pool_rd_valid);
wire pool_direct = fram_n == 0 && pool_room;  // a block freed now goes into pool_q
wire pool_pop    = (decide_taken && alloc)
                   || (finishing && scan_find && !matched && finish_room && !new_in_use);
wire pool_push   = (state == S_CLEAR && {{32-CLEAR_WIDTH{1'b0}}, clear_index} < LEVEL_BLOCKS)
                   || (decide_taken && !op_add && frees)
                   || (finishing && !scan_find && frees);
wire [BLOCK_WIDTH-1:0] pool_push_block = state == S_CLEAR ? clear_index[BLOCK_WIDTH-1:0] : op_block;
wire fram_re = fram_n != 0 && pool_room;

// pool_q with the arrivals appended (free_ram's read, then a freed block), then shifted by a take:
// the take, behind P2's done, is the last multiplexer
reg [POOL_QUEUE*BLOCK_WIDTH-1:0] pool_q_in;
reg [2:0] pool_n_in;
integer q;
always @* begin
    pool_q_in = pool_q;
    for (q = 0; q < POOL_QUEUE; q = q + 1) begin
        if (pool_rd_valid && q == {29'd0, pool_n})
            pool_q_in[q*BLOCK_WIDTH +: BLOCK_WIDTH] = free_block;
        if (pool_push && pool_direct && q == {29'd0, pool_n} + pool_rd_valid)
            pool_q_in[q*BLOCK_WIDTH +: BLOCK_WIDTH] = pool_push_block;
    end
    pool_n_in = pool_n + pool_rd_valid + (pool_push && pool_direct);
end
wire [2:0] pool_n_next = pool_n_in - pool_pop;

sdp_ram #(.WIDTH(BLOCK_WIDTH), .DEPTH(LEVEL_BLOCKS), .ADDR_WIDTH(BLOCK_WIDTH)) free_ram (
    .clk(clk), .we(spill), .waddr(fram_tail), .wdata(spill_block),
    .re(fram_re), .raddr(fram_head), .rdata(free_rd)
);

always @(posedge clk) begin
    pool_q <= pool_pop ? pool_q_in >> BLOCK_WIDTH : pool_q_in;
    pool_n <= pool_n_next;
    pool_any <= pool_n_next != 0;
    fram_rd_valid <= fram_re;
    pool_rd_valid <= fram_rd_valid;
    free_block <= free_rd;
    spill <= pool_push && !pool_direct;
    spill_block <= pool_push_block;
    if (spill)
        fram_tail <= fram_tail + 1'b1;
    if (fram_re)
        fram_head <= fram_head + 1'b1;
    fram_n <= fram_n + spill - fram_re;
    pool_popped <= pool_pop;
    pool_pushed <= pool_push;
    status_free_blocks <= status_free_blocks + pool_pushed - pool_popped;
    if (rst) begin
        pool_n <= 0;
        pool_any <= 1'b0;
        fram_rd_valid <= 1'b0;
        pool_rd_valid <= 1'b0;
        fram_n <= 0;
        fram_head <= 0;
        fram_tail <= 0;
        spill <= 1'b0;
        pool_popped <= 1'b0;
        pool_pushed <= 1'b0;
        status_free_blocks <= 0;
    end
end

always @(posedge clk) begin
    stat_scan <= 1'b0;
    scan_rd_valid <= 1'b0;
    scan_lv_valid <= scan_rd_valid;
    scan_lv_slot <= scan_rd_slot;
    scan_lv_ptr <= scan_rd_ptr;
    scan_lv <= level_read_word;  // (a scan's read meets no write: P2 writes no level while it scans)

    // P0: whether it holds a request, and whether its side as read is current
    p0_valid <= p0_valid_next;
    p0_fresh <= p0_fresh_next;
    p0_wants_read <= p0_valid_next && !p0_fresh_next;
    c_wants_read <= c_wants_read_next;
    // the ports read next cycle unless P0 keeps its fresh data there (P1's read again comes first)
    port_read <= c_wants_read_next || !(p0_valid_next && p0_fresh_next && p0_stays_next);
    // (from registers, not state_next: a scan that finds its price ends with one read more, into S_FINISH)
    scan_read <= state == S_SCAN ? scan_pending != 0 : state == S_DECIDE && need_scan && op_add && candidates != 0;

    // P1: P0's request with its data copied from the RAMs' output, or the one waiting with its
    // side read again
    if (rd_take) begin
        c_add <= p0_add;
        c_book <= p0_book;
        c_price <= p0_price;
        c_tag <= price_tag(p0_price);
        c_shares <= p0_shares;
        c_slot <= p0_slot;
        c_block <= p0_block;
        c_remove <= p0_remove;
    end
    c_valid <= c_valid_next;
    c_same_book <= c_same_book_next;
    c_same_level <= c_same_level_next;
    c_copies <= !c_valid_next || c_rd_pending_next;
    // (P1 is never taken as its read again arrives: it is not fresh; and P2 writes no side of
    // P1's as a read of it arrives: P1 read it while P2 held none of its side)
    if (c_copies || cmp_take || (done && c_same_book))
        c_head <= head_copied;
    // (a write forwarded while P1 waits replaces only the forwarded word: the others are then unused)
    if (c_copies || cmp_take) begin
        c_level_read <= level_read_word;
        c_level_written <= level_written_word;
        c_level_new <= level_read_written;
    end
    if (c_copies || cmp_take || (live_level_write && c_same_level)) begin
        c_level_forwarded <= level_ram_wdata;
        c_level_fwd <= level_forward;
    end
    p0_same <= p0_same_next;
    head_forward_side <= (rst || !c_rd_pending_next) && (p0_same_next || c_same_book_next);
    p0_same_level <= req_valid ? (cmp_take ? req_level_c : req_level_op) : (cmp_take ? p0_level_c : p0_level_op);
    c_rd_pending <= c_rd_pending_next;
    c_fresh <= c_fresh_next;

    if (done) begin
        if (finishing) begin
            resp_top_price <= top_final[PRICE_LSB +: PRICE_WIDTH];
            resp_top_shares <= top_final[SHARES_LSB +: SIZE_WIDTH];
            resp_levels <= levels_scan;
            resp_levels_changed <= levels_differ(levels_scan, levels_before);
        end else begin
            resp_top_price <= ncached_next != 0 ? top_next[PRICE_LSB +: PRICE_WIDTH] : 32'd0;
            resp_top_shares <= ncached_next != 0 ? top_next[SHARES_LSB +: SIZE_WIDTH] : {SIZE_WIDTH{1'b0}};
            resp_levels <= levels_decide;
            resp_levels_changed <= levels_differ(levels_decide, levels_before);
        end
    end
    // P1 -> P2, as the request before is taken or P2 is empty
    if (cmp_take) begin
        op_add <= c_add;
        op_book <= c_book;
        op_price <= c_price;
        op_tag <= c_tag;
        op_shares <= c_shares;
        op_slot <= c_slot;
        op_block <= c_block;
        head_q <= c_head;
        hit_at <= c_hit_at;
        hit_slot <= c_hit_slot;
        hit_ptr <= c_hit_ptr;
        ahead <= c_ahead;
        from_hit <= c_from_hit;
        plus <= c_plus;
        candidates <= c_candidates;
        hit <= c_hit;
        gone <= c_gone;
        need_scan <= c_need_scan;
        full <= c_nlevels == LEVELS;
        new_into_cache <= c_add && !c_hit && c_nlevels != LEVELS && !c_ahead[TOP_N-1];
        cache_room <= c_ncached < TOP_N;
        free_one <= lowest_one(~c_bitmap);
        free_slot <= slot_of(lowest_one(~c_bitmap));
        new_block_one <= c_new_block;
        new_in_use <= c_new_in_use;
        new_ptr <= c_new_ptr;
        frees <= c_frees;
        minus_price <= c_level[PRICE_LSB +: PRICE_WIDTH];
        minus_size <= c_minus_size;
        minus_count <= c_minus_count;
        nlevels_up <= c_nlevels + 1'b1;
        nlevels_down <= c_nlevels - 1'b1;
        ncached_up <= c_ncached + 1'b1;
        ncached_down <= c_ncached - 1'b1;
    end
    case (state)
    S_CLEAR: begin
        clear_index <= clear_index + 1'b1;
    end
    S_DECIDE: begin
        if (need_scan) begin
            head_work <= {ptrs_next, tags_next, cache_next, ncached_next, nlevels_next, bitmap_next};
            stat_scan <= 1'b1;
            scan_find <= op_add;
            scan_next_one <= lowest_one(candidates);
            scan_next <= slot_of(lowest_one(candidates));
            scan_ptr <= ptr_of(ptrs, first_block(candidates));
            scan_pending <= candidates & ~lowest_one(candidates);
            matched <= 1'b0;
            best_valid <= 1'b0;
        end
    end
    S_REFILL: begin
        scan_next_one <= 0;  // the first slot is chosen in S_SCAN's first cycle
        scan_next <= 0;
        scan_ptr <= 0;
        scan_pending <= head_work[LEVELS-1:0] & ~slots_of(head_work[CACHE_LSB +: TOP_N*CE_WIDTH], work_ncached);
    end
    S_SCAN: begin
        if (scan_read) begin
            scan_rd_slot <= scan_next;
            scan_rd_ptr <= scan_ptr;
            scan_rd_valid <= 1'b1;
        end
        scan_next_one <= scan_then_one;
        scan_next <= slot_of(scan_then_one);
        scan_ptr <= ptr_of(head_work[PTRS_LSB +: PTRS_WIDTH], first_block(scan_pending));
        scan_pending <= scan_pending & ~scan_then_one;
        if (scan_match) begin
            matched <= 1'b1;
            match_slot <= scan_lv_slot;
            match_ptr <= scan_lv_ptr;
            match_level <= level_plus(scan_lv, op_shares);
        end
        if (scan_better) begin
            best_valid <= 1'b1;
            best <= {scan_lv_slot, scan_lv};
        end
    end
    default: ;
    endcase
    state <= state_next;
    deciding <= state_next == S_DECIDE;
    finishing <= state_next == S_FINISH;
    cmp_ready_q <= cmp_ready_next;
    // (P1's compares straight into the flip-flop, as into need_scan: its enable and reset choose)
    if (rst || (finishing && !cmp_take))
        scans <= 1'b0;
    else if (cmp_take)
        scans <= c_need_scan;
    if (rst) begin
        clear_index <= 0;
        scan_rd_valid <= 1'b0;
        scan_lv_valid <= 1'b0;
        c_rd_pending <= 1'b0;
        p0_valid <= 1'b0;
        port_read <= 1'b1;
        scan_read <= 1'b0;
    end
end

endmodule
