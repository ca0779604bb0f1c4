// Order store: order reference -> (stock locate, side, price, shares, level slot).
//
// Structure: cuckoo hashing over two tables (read in the same cycle) and a small
// stash in registers. A table holds 2^(BUCKET_BITS-1) buckets of WAYS entries, a
// block RAM per way at the bucket's address, so a lookup is one read per table
// and all ways are compared at once; a write puts one way (that way's RAM's write
// enable), so no stage holds a bucket to write it back whole; deleting is clearing
// a valid bit. A way
// holds the whole reference. A reference's bucket in a table is the top bits of
// the 32-bit product of its two halves XORed and the table's odd multiplier
// (Fibonacci hashing, order_hash.vh): consecutive references (ITCH references only grow)
// spread over the buckets, and the two tables' buckets of a reference are
// unrelated, which cuckoo hashing needs (an XOR of index and tag bits, which
// would spare storing the index bits, pairs the buckets by a fixed offset per
// tag and refused adds from ~87 % occupancy on generated feeds).
//
// An insert takes the first free way of its table-0 bucket, else of its table-1
// bucket. When both are full it moves orders: the new order takes the way a
// kick counter points at in its table-0 bucket (that way's order is kept from S1 to
// the write), the order it displaced goes to
// its bucket in the other table (first free way, else the counter's way, whose
// order moves on in turn), at most MAX_KICKS times, six cycles each (its reference's
// halves XORed, three 16x16 partial products of the hash, their sum, its bucket read,
// copied to S1's flip-flops, placed); the order still without a bucket then goes
// to the stash (a cycle more). An add is refused only when
// both of its buckets and the stash are full (find_free = 0), decided before
// anything moves: the caller counts it and flags the symbol stale; no order is
// ever lost. sim/book_model.py:OrderStore mirrors this slot for slot.
//
// Sizing: CAPACITY = 2^BUCKET_BITS * WAYS + STASH. Default 2^14 * 4 (simulation).
// A real day peaks near 10^6 live orders: BUCKET_BITS = 18, WAYS = 4 gives 2^20
// slots of ~150 bits (8192 symbols), 156 Mbit in UltraRAM.
//
// Interface: a pipeline of eight stages, R (read), S1 (compare), S2 (found), W, A, L and S3 (held)
// and S4 (write), in event order.
//   find  (op_find, op_ref, while find_ready): reads the ref's two buckets as the
//         event enters R, at op_hash0 and op_hash1 (the ref's bucket hashes for the two
//         tables, order_hash.vh, computed ahead by the caller, from registers). In R
//         the buckets are in the RAMs' output registers; nothing reads the RAMs while R
//         or S1 needs that word. While an older find in R to S4 that shares a bucket with
//         op_ref has not yet written, the read would miss that write: the find is marked
//         stale.
//         The RAMs read whenever r_open (whether a find comes or not: their output is then
//         nobody's), so their read enables wait on the caller's stall alone.
//   r_advance: the find moves to S1 (stale or not), its buckets copied into flip-flops
//         with no logic in front, each way's reference beside them compared with the ref two
//         bits to a LUT (a block RAM's clock-to-output and route leave time for one LUT of
//         four inputs behind it in the same cycle on the ECP5, not for a compare's tree). S1
//         ANDs those, and the stash compare (registered as the find entered S1). A stale find
//         reads its buckets again from S1, the word arriving a cycle later and copied
//         into S1's flip-flops the cycle after, until no older find sharing a bucket is
//         yet to write (find_valid low meanwhile); a find in R then reads again too.
//   s1_advance: the find moves to S2 while find_valid (not while s1_blocked: S2 to
//         V hold an insert that may move orders). In S2, registered, find_hit and
//         find_entry say whether and how the ref is stored, and find_free whether an
//         insert has room (counting the stash orders that W, A, L, S3 and S4 will delete);
//         find_fewer and find_no_more whether the order found holds fewer or no more shares
//         than s1_shares (the caller's S1 shares, compared in S1 on every way).
//         Where the ref is (or would go) is held for the write.
//   s2_advance: the find moves to A, or to W (the caller's register beside S2, for a find A
//         cannot take yet) while A is not ready, with s2_deletes if it will delete its order.
//   a_ready, l_ready, s3_ready, s4_ready: the caller's stage is empty or its event moves on
//         (A's to L, L's to S3, S3's to S4, S4's out). Each stage's find moves on while it is
//         ready, and each copies the find before it (A: W's, else S2's) whenever it is ready,
//         as the caller's stages do, so the enables of the held finds' flip-flops wait on the
//         caller's stall alone.
//   S4's find leaves while s4_ready, with at most one write (op_write, op_write_valid,
//         op_entry): an update (valid 1) or delete (valid 0) of the found order, or
//         an insert (valid 1, no hit, find_free). The write is registered (V) and made the
//         cycle after, so the caller's decision (a level's room) reaches flip-flops beside
//         it, not the RAMs' write enables across the chip. An insert whose buckets are full
//         moves orders: find_ready is low while it does, and the finds then in R and
//         S1 read their buckets again (find_valid low meanwhile).
// A table's read of a bucket that V writes in the same cycle is marked stale like one behind an
// unwritten find, and reads again: the word so read is never used (sdp_ram READ_OLD 0). So the
// tables need no write-first bypass, nor the old word kept, either of which would put a
// multiplexer in front of the compares.
// The stall into the stages behind depends on registers only (freshness, s1_blocked); no
// stall depends on a compare made in its cycle, and the write addresses come from registers.
// After rst, the RAMs are cleared one bucket per cycle; find_ready is low then.

module order_store #(
    parameter BUCKET_BITS = 14,
    parameter WAYS = 4,
    parameter LOCATE_WIDTH = 12,
    parameter SLOT_WIDTH = 6,
    parameter ULTRA_RAM = 0  // 1: the tables in UltraRAM (sdp_ram)
) (
    input  wire                    clk,
    input  wire                    rst,

    output wire                    find_ready,
    input  wire                    r_open,  // R is empty or its find moves on: the RAMs may read
    input  wire                    op_find,
    input  wire [63:0]             op_ref,
    input  wire [31:0]             op_hash0,
    input  wire [31:0]             op_hash1,

    input  wire                    r_advance,

    output wire                    find_valid,
    output wire                    s1_blocked,
    input  wire                    s1_advance,

    output wire                    find_hit,
    output wire                    find_free,
    output wire [ENTRY_WIDTH-1:0]  find_entry,
    input  wire [31:0]             s1_shares,    // S1's find's shares, compared with its order's ...
    output wire                    find_fewer,   // ... in S1: the order found holds fewer ...
    output wire                    find_no_more, // ... or no more (both 0 when none is found)
    input  wire                    s2_advance,
    input  wire                    s2_deletes,
    input  wire                    a_ready,
    input  wire                    l_ready,
    input  wire                    s3_ready,
    input  wire                    s4_ready,

    input  wire                    op_write,
    input  wire                    op_write_valid,
    input  wire [ENTRY_WIDTH-1:0]  op_entry,

    output reg  [31:0]             live_orders
);

`include "order_entry.vh"
localparam ENTRY_WIDTH = ENTRY_LEVEL_LSB + SLOT_WIDTH;
localparam INDEX_BITS = BUCKET_BITS - 1;  // per table
localparam WAY_WIDTH = 1 + 64 + ENTRY_WIDTH;  // {valid, reference, entry}
localparam BUCKET_WIDTH = WAYS * WAY_WIDTH;
localparam BUCKETS = 1 << INDEX_BITS;
localparam STASH = 8;
localparam MAX_KICKS = 32;
localparam WAY_BITS = WAYS > 1 ? $clog2(WAYS) : 1;
localparam SLOT_BITS = $clog2(STASH);
localparam PAIRS = (WAYS + 1) / 2;  // pairs of ways per table

initial begin
    if (BUCKET_BITS < 2 || BUCKET_BITS > 32 || WAYS < 1 || WAYS > 16
            || LOCATE_WIDTH < 1 || LOCATE_WIDTH > 16 || SLOT_WIDTH < 1) begin
        $error("order_store: BUCKET_BITS 2..32, WAYS 1..16, LOCATE_WIDTH 1..16, SLOT_WIDTH >= 1");
        $finish;
    end
end

`include "order_hash.vh"

// ---- R: the find's buckets in the RAMs' output registers; S1: copied to flip-flops, compared ----

reg                     clearing;
reg [INDEX_BITS:0]      clear_index;
reg                     r_busy;    // R holds a find
reg                     r_fresh;   // ... whose read saw every write before it
reg [63:0]              r_ref;
reg [INDEX_BITS-1:0]    r_index0, r_index1;
reg                     s1_busy;   // S1 holds a find
reg                     s1_fresh;  // ... whose buckets (s1_data*) were read after every write before it
reg [63:0]              s1_ref;
reg [INDEX_BITS-1:0]    s1_index0, s1_index1;
wire [BUCKET_WIDTH-1:0] read_data0, read_data1;
// the RAMs' output words copied with nothing in front; the compares start here. A move's
// bucket (K_LOAD) is copied here too: S1's find reads its buckets again after the moves.
reg [BUCKET_WIDTH-1:0]  s1_data0, s1_data1;
reg                     rd_pending;  // the RAMs' output holds S1's buckets read again ...
reg                     rd_fresh;    // ... after every write before it
// the reference whose buckets the RAMs read last (a new find's, or S1's again), registered with the
// read: the compares behind the RAMs' output take it from a flip-flop
reg [63:0]              read_ref;
// ... and a copy of it for each way of each table, kept apart in synthesis (keep on their always
// block: merged into one, the register sits by one way's compares and the other ways' RAM outputs
// cross the die to it; each copy is placed by its own way's RAMs)
reg [WAYS*64-1:0]       read_ref0, read_ref1;
// Each way's reference compared with its copy of read_ref two bits to a LUT as the RAMs' word is
// copied into S1 (one LUT of four inputs behind the RAM's clock-to-output), registered: S1 ANDs 32
// bits a way, not 64 bits' compares, in front of the found entry's pick.
localparam REF_PAIRS = 32;
reg [WAYS*REF_PAIRS-1:0] s1_ref_eq0, s1_ref_eq1;
reg [WAYS*REF_PAIRS-1:0] read_ref_eq0, read_ref_eq1;
integer e;
always @* begin
    for (e = 0; e < WAYS * REF_PAIRS; e = e + 1) begin
        read_ref_eq0[e] = read_data0[(e/REF_PAIRS)*WAY_WIDTH + ENTRY_WIDTH + 2*(e%REF_PAIRS) +: 2]
                          == read_ref0[(e/REF_PAIRS)*64 + 2*(e%REF_PAIRS) +: 2];
        read_ref_eq1[e] = read_data1[(e/REF_PAIRS)*WAY_WIDTH + ENTRY_WIDTH + 2*(e%REF_PAIRS) +: 2]
                          == read_ref1[(e/REF_PAIRS)*64 + 2*(e%REF_PAIRS) +: 2];
    end
end

// flat vectors rather than arrays: registers written in several places, never a RAM
reg [STASH-1:0]             stash_valid;
reg [STASH*64-1:0]          stash_ref;
reg [STASH*ENTRY_WIDTH-1:0] stash_entry;

// S1 finds the ways holding the reference from the registered compares, one-hot (a reference is
// in one place at most), and picks the found entry with the hits as an AND-OR, registered. Where
// the order is, or where an insert goes, is encoded in S2 from the registered hits and free ways,
// off the compares' path.
reg [WAYS-1:0] hits0, hits1, frees0, frees1;
integer w;
always @* begin
    for (w = 0; w < WAYS; w = w + 1) begin
        hits0[w] = s1_data0[w*WAY_WIDTH + WAY_WIDTH - 1] && &s1_ref_eq0[w*REF_PAIRS +: REF_PAIRS];
        hits1[w] = s1_data1[w*WAY_WIDTH + WAY_WIDTH - 1] && &s1_ref_eq1[w*REF_PAIRS +: REF_PAIRS];
        frees0[w] = !s1_data0[w*WAY_WIDTH + WAY_WIDTH - 1];
        frees1[w] = !s1_data1[w*WAY_WIDTH + WAY_WIDTH - 1];
    end
end
wire any_free0 = frees0 != 0, any_free1 = frees1 != 0;

// the lowest way set in a one-hot or wider vector
function [WAY_BITS-1:0] first_way;
    input [WAYS-1:0] ways;
    integer v;
    begin
        first_way = 0;
        for (v = WAYS - 1; v >= 0; v = v - 1)
            if (ways[v])
                first_way = v[WAY_BITS-1:0];
    end
endfunction
wire [WAY_BITS-1:0] free_way0 = first_way(frees0), free_way1 = first_way(frees1);

// The stash as S1 sees it, compared as the find's buckets are copied into S1 (and again as they
// are read again), registered: only the finds ahead of it write the stash, at their own
// references (which share its buckets: it is stale until they have written), and a move makes
// it stale, so the compare holds in S1.
reg [STASH-1:0] s1_stash_match;
reg [SLOT_BITS-1:0] stash_hit_slot, stash_free_slot;
reg stash_full;
wire stash_hit = s1_stash_match != 0;
integer s;
always @* begin
    stash_hit_slot = 0;
    stash_free_slot = 0;
    stash_full = 1'b1;
    for (s = STASH - 1; s >= 0; s = s - 1) begin
        if (s1_stash_match[s])
            stash_hit_slot = s[SLOT_BITS-1:0];
        if (!stash_valid[s]) begin
            stash_full = 1'b0;
            stash_free_slot = s[SLOT_BITS-1:0];
        end
    end
end

// where the orders in S2 (found_*), W (w_*), A (a_*), L (l_*), S3 (mid_*), S4 (held_*) and V (wr_*)
// are, or where their inserts go, held from S1 to the write
localparam [1:0] AT_TABLE0 = 2'd0, AT_TABLE1 = 2'd1, AT_STASH = 2'd2, AT_KICK = 2'd3;
reg                    found_busy, w_busy, a_busy, l_busy, mid_busy, held_busy, wr_busy;
reg [63:0]             found_ref;
reg [INDEX_BITS-1:0]   found_index0, found_index1;
reg [WAY_WIDTH-1:0]    found_victim;  // table 0's way at kick_way: the order an insert with no room pushes out
reg [SLOT_BITS-1:0]    found_slot;
reg [WAYS-1:0]         found_hits0, found_hits1, found_frees0, found_frees1;
reg [STASH-1:0]        found_stash_hits;
reg [2*PAIRS*ENTRY_WIDTH-1:0] found_pair_entries;
reg [ENTRY_WIDTH-1:0]  found_stash_entry;
reg [1:0]              found_table_hits;  // a way of table 0's bucket, of table 1's, holds the ref
reg                    found_stash_hit;
reg                    found_full;  // S2 holds a find with no free way in either bucket ...
reg                    found_moves; // ... nor its reference in them or the stash: an insert moves orders
// Each of W to V holds its find as one record (a *_track register), moved whole from stage to
// stage: {ref, index0, index1, victim, at, way, slot, hit, deletes}
localparam TR_DELETES = 0, TR_HIT = 1, TR_SLOT = 2, TR_WAY = TR_SLOT + SLOT_BITS, TR_AT = TR_WAY + WAY_BITS,
           TR_VICTIM = TR_AT + 2, TR_INDEX1 = TR_VICTIM + WAY_WIDTH, TR_INDEX0 = TR_INDEX1 + INDEX_BITS,
           TR_REF = TR_INDEX0 + INDEX_BITS, TRACK_WIDTH = TR_REF + 64;
reg [TRACK_WIDTH-1:0]  w_track, a_track, l_track, mid_track, held_track, wr_track;
// V: S4's write, registered
reg                    wr_write, wr_valid;  // op_write and op_write_valid
reg [ENTRY_WIDTH-1:0]  wr_entry;
wire [63:0]            wr_ref    = wr_track[TR_REF +: 64];
wire [INDEX_BITS-1:0]  wr_index0 = wr_track[TR_INDEX0 +: INDEX_BITS];
wire [INDEX_BITS-1:0]  wr_index1 = wr_track[TR_INDEX1 +: INDEX_BITS];
wire [WAY_WIDTH-1:0]   wr_victim = wr_track[TR_VICTIM +: WAY_WIDTH];
wire [1:0]             wr_at     = wr_track[TR_AT +: 2];
wire [WAY_BITS-1:0]    wr_way    = wr_track[TR_WAY +: WAY_BITS];
wire [SLOT_BITS-1:0]   wr_slot   = wr_track[TR_SLOT +: SLOT_BITS];
wire                   wr_hit    = wr_track[TR_HIT];

// a held find: where its order goes; whether it will delete a stash order; whether it is still
// to write either of two buckets
function [1:0] track_at;
    input [TRACK_WIDTH-1:0] track;
    track_at = track[TR_AT +: 2];
endfunction
function track_frees_stash;
    input [TRACK_WIDTH-1:0] track;
    track_frees_stash = track[TR_AT +: 2] == AT_STASH && track[TR_DELETES];
endfunction
function track_shares;
    input [TRACK_WIDTH-1:0] track;
    input [INDEX_BITS-1:0]  index0, index1;
    track_shares = track[TR_INDEX0 +: INDEX_BITS] == index0 || track[TR_INDEX1 +: INDEX_BITS] == index1;
endfunction

wire found_hit = found_table_hits != 0 || found_stash_hit;
wire stash_freed = (w_busy && track_frees_stash(w_track)) || (a_busy && track_frees_stash(a_track))
                   || (l_busy && track_frees_stash(l_track)) || (mid_busy && track_frees_stash(mid_track))
                   || (held_busy && track_frees_stash(held_track)) || (wr_busy && track_frees_stash(wr_track));

assign find_valid = s1_busy && s1_fresh;
assign find_hit   = found_hit;
assign find_free  = !found_full || !stash_full || stash_freed;
// S2 to V hold an insert that moves orders: S2's (found_moves, registered from S1's compares), the
// later stages' registered from the stages as they will be (s1_blocked_next). Both are flip-flops:
// the stall of S1, and behind it R's and the RAMs' read enables, starts at them.
reg s1_blocked_q;
assign s1_blocked = found_moves || s1_blocked_q;

// the found entry: the hit way's, or the hit stash slot's (which only finds of its own
// reference write, and those are written before this find is current); zeros when none.
// S1 picks it in parts registered apart, each pair of ways' and the stash's, ORed in S2: a pair's
// AND-OR takes one LUT level behind the compares, the AND-OR of all ways would take two. Whether
// it was found is registered per table (an OR of the table's hits, one LUT level) and ORed in S2.
reg [2*PAIRS*ENTRY_WIDTH-1:0] s1_pair_entries;  // table 0's pairs, then table 1's
reg [ENTRY_WIDTH-1:0] s1_stash_entry;
integer u;
always @* begin
    s1_pair_entries = 0;
    s1_stash_entry = 0;
    for (u = 0; u < WAYS; u = u + 1) begin
        s1_pair_entries[(u/2)*ENTRY_WIDTH +: ENTRY_WIDTH] = s1_pair_entries[(u/2)*ENTRY_WIDTH +: ENTRY_WIDTH]
            | (s1_data0[u*WAY_WIDTH +: ENTRY_WIDTH] & {ENTRY_WIDTH{hits0[u]}});
        s1_pair_entries[(PAIRS + u/2)*ENTRY_WIDTH +: ENTRY_WIDTH] = s1_pair_entries[(PAIRS + u/2)*ENTRY_WIDTH +: ENTRY_WIDTH]
            | (s1_data1[u*WAY_WIDTH +: ENTRY_WIDTH] & {ENTRY_WIDTH{hits1[u]}});
    end
    for (u = 0; u < STASH; u = u + 1)
        s1_stash_entry = s1_stash_entry | (stash_entry[u*ENTRY_WIDTH +: ENTRY_WIDTH] & {ENTRY_WIDTH{s1_stash_match[u]}});
end
reg [ENTRY_WIDTH-1:0] found_entry;
always @* begin
    found_entry = found_stash_entry;
    for (u = 0; u < 2*PAIRS; u = u + 1)
        found_entry = found_entry | found_pair_entries[u*ENTRY_WIDTH +: ENTRY_WIDTH];
end
assign find_entry = found_entry;

// The found order's shares against the find's, compared in S1 on every way and stash slot beside
// the reference compares (a carry chain from flip-flops) and picked with the hits as the entry
// is: S2 ORs registered bits, and the caller's reduce decision follows no carry chain behind the
// found entry's pick.
// a < b on 32 bits as two 16-bit compares side by side: one carry chain half as long
function less32;
    input [31:0] a, b;
    begin
        less32 = a[31:16] < b[31:16] || (a[31:16] == b[31:16] && a[15:0] < b[15:0]);
    end
endfunction
reg [2*PAIRS:0] s1_fewer_parts, s1_no_more_parts;  // per pair of ways (table 0's, table 1's), the stash
reg [2*PAIRS:0] found_fewer_parts, found_no_more_parts;
reg [31:0]      way_shares;
always @* begin
    s1_fewer_parts = 0;
    s1_no_more_parts = 0;
    for (u = 0; u < WAYS; u = u + 1) begin
        way_shares = s1_data0[u*WAY_WIDTH + ENTRY_SHARES_LSB +: 32];
        s1_fewer_parts[u/2] = s1_fewer_parts[u/2] | (hits0[u] && less32(way_shares, s1_shares));
        s1_no_more_parts[u/2] = s1_no_more_parts[u/2] | (hits0[u] && !less32(s1_shares, way_shares));
        way_shares = s1_data1[u*WAY_WIDTH + ENTRY_SHARES_LSB +: 32];
        s1_fewer_parts[PAIRS + u/2] = s1_fewer_parts[PAIRS + u/2] | (hits1[u] && less32(way_shares, s1_shares));
        s1_no_more_parts[PAIRS + u/2] = s1_no_more_parts[PAIRS + u/2] | (hits1[u] && !less32(s1_shares, way_shares));
    end
    for (u = 0; u < STASH; u = u + 1) begin
        way_shares = stash_entry[u*ENTRY_WIDTH + ENTRY_SHARES_LSB +: 32];
        s1_fewer_parts[2*PAIRS] = s1_fewer_parts[2*PAIRS] | (s1_stash_match[u] && less32(way_shares, s1_shares));
        s1_no_more_parts[2*PAIRS] = s1_no_more_parts[2*PAIRS] | (s1_stash_match[u] && !less32(s1_shares, way_shares));
    end
end
assign find_fewer = found_fewer_parts != 0;
assign find_no_more = found_no_more_parts != 0;

// the way the next move takes (moving orders, below); counts on across inserts
reg [WAY_BITS-1:0] kick_way;
// where S2's order is, or where its insert goes
reg [1:0]          found_at;
reg [WAY_BITS-1:0] found_way;
always @* begin
    found_way = kick_way;
    if (found_hits0 != 0) begin
        found_at = AT_TABLE0;
        found_way = first_way(found_hits0);
    end else if (found_hits1 != 0) begin
        found_at = AT_TABLE1;
        found_way = first_way(found_hits1);
    end else if (found_stash_hits != 0) begin
        found_at = AT_STASH;
    end else if (found_frees0 != 0) begin
        found_at = AT_TABLE0;
        found_way = first_way(found_frees0);
    end else if (found_frees1 != 0) begin
        found_at = AT_TABLE1;
        found_way = first_way(found_frees1);
    end else begin
        // both buckets full: the insert pushes out the order at kick_way in table 0
        found_at = AT_KICK;
    end
end

// S2's find as W or A takes it
wire [TRACK_WIDTH-1:0] found_track = {found_ref, found_index0, found_index1, found_victim, found_at, found_way,
                                      found_slot, found_hit, s2_deletes};

// the stages W to V after this cycle: whether each holds a find
wire       w_busy_next     = !rst && (s2_advance || w_busy) && !a_ready;
wire       a_busy_next     = !rst && (a_ready ? s2_advance || w_busy : a_busy);
wire       l_busy_next     = !rst && (l_ready ? a_busy && a_ready : l_busy);
wire       mid_busy_next   = !rst && (s3_ready ? l_busy && l_ready : mid_busy);
wire       held_busy_next  = !rst && (s4_ready ? mid_busy && s3_ready : held_busy);
wire       wr_busy_next    = !rst && held_busy && s4_ready;

// Whether W to V will hold an insert that moves orders: a find in W to S4 is in W to V after this
// cycle whether its stage advances or not, V's has left, and S2's enters W or A as it advances. So
// none of the stall's enables (the stages' readiness) is in front of this register.
wire s1_blocked_next = !rst && ((s2_advance && found_moves)
                                || (w_busy && track_at(w_track) == AT_KICK) || (a_busy && track_at(a_track) == AT_KICK)
                                || (l_busy && track_at(l_track) == AT_KICK)
                                || (mid_busy && track_at(mid_track) == AT_KICK)
                                || (held_busy && track_at(held_track) == AT_KICK));

// ---- moving orders (an insert whose two buckets are full) ----

localparam [2:0] K_IDLE = 3'd0, K_HASH = 3'd1, K_MUL = 3'd2, K_SUM = 3'd3, K_READ = 3'd4,
                 K_LOAD = 3'd5, K_PLACE = 3'd6, K_STASH = 3'd7;
reg [2:0]             kick_state;
reg [$clog2(MAX_KICKS+1)-1:0] kicks;
reg [WAY_WIDTH-1:0]   moving;       // the order looking for a bucket: {valid, reference, entry}
reg                   moving_table; // the table it was pushed out of
reg [INDEX_BITS-1:0]  kick_index;   // its bucket in the other table (K_HASH), read (K_READ),
                                    // copied into s1_data* (K_LOAD), written (K_PLACE)
wire [63:0]           moving_ref = moving[ENTRY_WIDTH +: 64];
wire [BUCKET_WIDTH-1:0] kick_data = moving_table ? s1_data0 : s1_data1;  // the other table's
wire kick_free = moving_table ? any_free0 : any_free1;
wire [WAY_BITS-1:0] kick_free_way = moving_table ? free_way0 : free_way1;
wire kick_last = kicks == MAX_KICKS;
wire [WAY_BITS-1:0] kick_put_way = kick_free ? kick_free_way : kick_way;

// one way of a bucket, picked by compares (a part-select at way*WAY_WIDTH is a barrel shifter)
function [WAY_WIDTH-1:0] get_way;
    input [BUCKET_WIDTH-1:0] bucket;
    input [WAY_BITS-1:0]     way;
    integer v;
    begin
        get_way = 0;
        for (v = 0; v < WAYS; v = v + 1)
            if (v == {{32-WAY_BITS{1'b0}}, way})
                get_way = bucket[v*WAY_WIDTH +: WAY_WIDTH];
    end
endfunction



// ---- the RAMs' ports: one write port (clear sweep, else S4's write as V makes it, else a move) ----

wire write_now    = wr_busy && wr_write;
wire kick_start   = write_now && wr_valid && wr_at == AT_KICK;
wire [WAY_WIDTH-1:0] written_way = {wr_valid, wr_ref, wr_entry};
wire write_table0 = write_now && (wr_at == AT_TABLE0 || wr_at == AT_KICK);
wire write_table1 = write_now && wr_at == AT_TABLE1;
wire place_move   = kick_state == K_PLACE && (kick_free || !kick_last);
wire place0 = place_move && moving_table;   // moving out of table 1: into table 0
wire place1 = place_move && !moving_table;
// Each way of a table is its own RAM with its own write enable, so a write puts one way and
// the stages need not hold the bucket read to write it back whole. The data and address are
// the move's throughout K_PLACE (V writes nothing while orders move), chosen from registers:
// whether the move places (a free way, or kicks left) reaches the write enables alone.
wire placing0 = kick_state == K_PLACE && moving_table;
wire placing1 = kick_state == K_PLACE && !moving_table;
wire [WAY_WIDTH-1:0]    wdata0 = clearing ? {WAY_WIDTH{1'b0}} : placing0 ? moving : written_way;
wire [INDEX_BITS-1:0]   waddr0 = clearing ? clear_index[INDEX_BITS-1:0] : placing0 ? kick_index : wr_index0;
wire [WAY_WIDTH-1:0]    wdata1 = clearing ? {WAY_WIDTH{1'b0}} : placing1 ? moving : written_way;
wire [INDEX_BITS-1:0]   waddr1 = clearing ? clear_index[INDEX_BITS-1:0] : placing1 ? kick_index : wr_index1;
reg  [WAYS-1:0]         we0, we1;
integer x;
always @* begin
    for (x = 0; x < WAYS; x = x + 1) begin
        we0[x] = clearing || (write_table0 && wr_way == x[WAY_BITS-1:0]) || (place0 && kick_put_way == x[WAY_BITS-1:0]);
        we1[x] = clearing || (write_table1 && wr_way == x[WAY_BITS-1:0]) || (place1 && kick_put_way == x[WAY_BITS-1:0]);
    end
end

// reads: a new find (S0; any cycle R is open), S1's find again, or a move's next bucket
wire kick_read = kick_state == K_READ;
// S1 reads its buckets again while stale, except while a fresh read of them is arriving
wire reread    = !clearing && kick_state == K_IDLE && s1_busy && !s1_fresh && !(rd_pending && rd_fresh);
// a new find's buckets, else S1's again (its registered buckets), else a move's
wire [INDEX_BITS-1:0] hash0 = op_hash0[31 -: INDEX_BITS];
wire [INDEX_BITS-1:0] hash1 = op_hash1[31 -: INDEX_BITS];
wire [INDEX_BITS-1:0] raddr0 = reread ? s1_index0 : kick_read ? kick_index : hash0;
wire [INDEX_BITS-1:0] raddr1 = reread ? s1_index1 : kick_read ? kick_index : hash1;
// The moving order's bucket in the other table, order_hash.vh over three cycles: the halves XORed
// (K_HASH), three 16x16 partial products of the 32-bit product's low half (K_MUL, one multiplier
// block each), their sum (K_SUM). The table's multiplier is registered with the halves XORed, so
// both of the multiplier blocks' operands leave flip-flops (no choice in front of a block's delay).
reg  [31:0] kick_multiplier;
reg  [31:0] kick_x;
reg  [ORDER_HASH_PARTS_WIDTH-1:0] kick_parts;
wire [31:0] kick_hash = order_hash_sum(kick_parts);
wire re0 = r_open || reread || (kick_read && moving_table);
wire re1 = r_open || reread || (kick_read && !moving_table);

// A read misses a write still to come to one of its buckets from an older find: R's or S1's
// (for a new find), S2's, W's, A's, L's, S3's, S4's or V's, V's even as it writes. Such a read is marked stale; the
// find passes R as it is and reads again from S1 until the write is done, rather than being
// held back at S0: the hash and these compares end at a register, not in the stall that takes
// the next event. (The held stages are listed in each, not read by a function: a continuous
// assignment is evaluated again only when a function's arguments change, so a function reading
// the stages' registers would leave these stale in simulation.)
wire new_read_stale = (r_busy && (hash0 == r_index0 || hash1 == r_index1))
                      || (s1_busy && (hash0 == s1_index0 || hash1 == s1_index1))
                      || (found_busy && (hash0 == found_index0 || hash1 == found_index1))
                      || (w_busy && track_shares(w_track, hash0, hash1))
                      || (a_busy && track_shares(a_track, hash0, hash1))
                      || (l_busy && track_shares(l_track, hash0, hash1))
                      || (mid_busy && track_shares(mid_track, hash0, hash1))
                      || (held_busy && track_shares(held_track, hash0, hash1))
                      || (wr_busy && track_shares(wr_track, hash0, hash1));
wire reread_stale   = (found_busy && (s1_index0 == found_index0 || s1_index1 == found_index1))
                      || (w_busy && track_shares(w_track, s1_index0, s1_index1))
                      || (a_busy && track_shares(a_track, s1_index0, s1_index1))
                      || (l_busy && track_shares(l_track, s1_index0, s1_index1))
                      || (mid_busy && track_shares(mid_track, s1_index0, s1_index1))
                      || (held_busy && track_shares(held_track, s1_index0, s1_index1))
                      || (wr_busy && track_shares(wr_track, s1_index0, s1_index1));
// No new find while S1 reads again (the RAMs' read port and output are S1's), except as a fresh
// read of S1's buckets arrives, and none behind a stale find in R (S1 would read over its data).
assign find_ready = !clearing && kick_state == K_IDLE && !s1_blocked
                    && !(s1_busy && !s1_fresh && !(rd_pending && rd_fresh)) && !(r_busy && !r_fresh);

// S1's flip-flops take the RAMs' output as a find enters S1 (or whenever S1 is free: a word
// taken with no find is never used), as S1's buckets read again arrive, and as a move's bucket
// does. Nothing reads the RAMs while R or S1 holds their output, so it is still that word.
wire s1_load = !s1_busy || s1_advance || rd_pending || kick_state == K_LOAD;

genvar gw;
generate
    for (gw = 0; gw < WAYS; gw = gw + 1) begin : g_way
        sdp_ram #(.WIDTH(WAY_WIDTH), .DEPTH(BUCKETS), .ULTRA(ULTRA_RAM), .READ_OLD(0),
                  .ADDR_WIDTH(INDEX_BITS)) table0 (
            .clk(clk), .we(we0[gw]), .waddr(waddr0), .wdata(wdata0),
            .re(re0), .raddr(raddr0), .rdata(read_data0[gw*WAY_WIDTH +: WAY_WIDTH])
        );
        sdp_ram #(.WIDTH(WAY_WIDTH), .DEPTH(BUCKETS), .ULTRA(ULTRA_RAM), .READ_OLD(0),
                  .ADDR_WIDTH(INDEX_BITS)) table1 (
            .clk(clk), .we(we1[gw]), .waddr(waddr1), .wdata(wdata1),
            .re(re1), .raddr(raddr1), .rdata(read_data1[gw*WAY_WIDTH +: WAY_WIDTH])
        );
    end
endgenerate

integer c;
(* keep *) always @(posedge clk) begin
    for (c = 0; c < WAYS; c = c + 1) begin
        if (reread) begin
            read_ref0[c*64 +: 64] <= s1_ref;
            read_ref1[c*64 +: 64] <= s1_ref;
        end else if (r_open) begin
            read_ref0[c*64 +: 64] <= op_ref;
            read_ref1[c*64 +: 64] <= op_ref;
        end
    end
end

integer t;
always @(posedge clk) begin
    if (clearing) begin
        clear_index <= clear_index + 1'b1;
        if (clear_index == BUCKETS - 1)
            clearing <= 1'b0;
    end

    // R: takes the find offered whenever R is open, whether one comes or not (op_find then only
    // says whether R is busy: the stall reaches one flip-flop's input, not R's enables)
    if (r_open) begin
        r_ref <= op_ref;
        r_index0 <= hash0;
        r_index1 <= hash1;
        r_busy <= op_find;
        r_fresh <= !new_read_stale;
    end
    if (reread)
        r_fresh <= 1'b0;  // its word in the RAMs' output is read over
    // (as S1 copies the word, read_ref is R's reference, or S1's as its read again arrives; else
    // the find in S1 is stale, R's word having been read over, and its compares are not used)
    if (reread)
        read_ref <= s1_ref;
    else if (r_open)
        read_ref <= op_ref;

    // S1
    if (r_advance) begin
        s1_ref <= r_ref;
        s1_index0 <= r_index0;
        s1_index1 <= r_index1;
        s1_busy <= 1'b1;
        s1_fresh <= r_fresh;
    end else if (s1_advance) begin
        s1_busy <= 1'b0;
    end
    rd_pending <= reread;
    rd_fresh <= !reread_stale;
    if (rd_pending)
        s1_fresh <= rd_fresh;
    if (s1_load) begin
        s1_data0 <= read_data0;
        s1_data1 <= read_data1;
        s1_ref_eq0 <= read_ref_eq0;
        s1_ref_eq1 <= read_ref_eq1;
        for (t = 0; t < STASH; t = t + 1)
            s1_stash_match[t] <= stash_valid[t] && stash_ref[t*64 +: 64] == read_ref;
    end
    if (kick_start) begin
        // the moves may change R's and S1's buckets: read them again after
        r_fresh <= 1'b0;
        s1_fresh <= 1'b0;
        rd_fresh <= 1'b0;
    end

    s1_blocked_q <= s1_blocked_next;
    // S2
    if (s1_advance) begin
        found_busy <= 1'b1;
        found_ref <= s1_ref;
        found_index0 <= s1_index0;
        found_index1 <= s1_index1;
        found_victim <= get_way(s1_data0, kick_way);
        found_table_hits <= {hits1 != 0, hits0 != 0};
        found_stash_hit <= stash_hit;
        found_full <= !any_free0 && !any_free1;
        found_moves <= !any_free0 && !any_free1 && hits0 == 0 && hits1 == 0 && !stash_hit;
        found_slot <= stash_hit_slot;
        found_hits0 <= hits0;
        found_hits1 <= hits1;
        found_frees0 <= frees0;
        found_frees1 <= frees1;
        found_stash_hits <= s1_stash_match;
        found_pair_entries <= s1_pair_entries;
        found_stash_entry <= s1_stash_entry;
        found_fewer_parts <= s1_fewer_parts;
        found_no_more_parts <= s1_no_more_parts;
    end else if (s2_advance) begin
        found_busy <= 1'b0;
        found_full <= 1'b0;
        found_moves <= 1'b0;
    end

    // W: copies S2's find whenever it is empty (its enables wait on a register); holds one A
    // could not take. A to V: each copies the find before it whenever it is ready (a word taken
    // with no find is never used: the stage's busy flag is low)
    if (!w_busy)
        w_track <= found_track;
    if (a_ready)
        a_track <= w_busy ? w_track : found_track;
    if (l_ready)
        l_track <= a_track;
    if (s3_ready)
        mid_track <= l_track;
    if (s4_ready) begin
        held_track <= mid_track;
        // V: S4's write, made a cycle later
        wr_write <= op_write;
        wr_valid <= op_write_valid;
        wr_entry <= op_entry;
        wr_track <= held_track;
    end
    w_busy <= w_busy_next;
    a_busy <= a_busy_next;
    l_busy <= l_busy_next;
    mid_busy <= mid_busy_next;
    held_busy <= held_busy_next;
    wr_busy <= wr_busy_next;

    if (write_now) begin
        if (wr_valid && !wr_hit)
            live_orders <= live_orders + 1'b1;
        else if (!wr_valid && wr_hit)
            live_orders <= live_orders - 1'b1;
        if (wr_at == AT_STASH) begin
            for (t = 0; t < STASH; t = t + 1)
                if (t == {{32-SLOT_BITS{1'b0}}, wr_slot}) begin
                    stash_valid[t] <= wr_valid;
                    stash_entry[t*ENTRY_WIDTH +: ENTRY_WIDTH] <= wr_entry;
                end
        end
        if (kick_start) begin
            moving <= wr_victim;
            moving_table <= 1'b0;
            kick_way <= {{32-WAY_BITS{1'b0}}, kick_way} == WAYS - 1 ? {WAY_BITS{1'b0}} : kick_way + 1'b1;
            kicks <= 1;
            kick_state <= K_HASH;
        end
    end

    case (kick_state)
    K_HASH: begin
        kick_x <= order_hash_key(moving_ref);
        kick_multiplier <= moving_table ? ORDER_HASH0 : ORDER_HASH1;
        kick_state <= K_MUL;
    end
    K_MUL: begin
        kick_parts <= order_hash_parts(kick_x, kick_multiplier);
        kick_state <= K_SUM;
    end
    K_SUM: begin
        kick_index <= kick_hash[31 -: INDEX_BITS];
        kick_state <= K_READ;
    end
    K_READ:
        kick_state <= K_LOAD;
    K_LOAD:
        kick_state <= K_PLACE;
    K_PLACE: begin
        if (kick_free) begin
            kick_state <= K_IDLE;
        end else if (kick_last) begin
            kick_state <= K_STASH;  // the stash's enables from a register, not behind kick_free
        end else begin
            moving <= get_way(kick_data, kick_way);
            moving_table <= !moving_table;
            kick_way <= {{32-WAY_BITS{1'b0}}, kick_way} == WAYS - 1 ? {WAY_BITS{1'b0}} : kick_way + 1'b1;
            kicks <= kicks + 1'b1;
            kick_state <= K_HASH;
        end
    end
    K_STASH: begin
        for (t = 0; t < STASH; t = t + 1)
            if (t == {{32-SLOT_BITS{1'b0}}, stash_free_slot}) begin
                stash_valid[t] <= 1'b1;
                stash_ref[t*64 +: 64] <= moving_ref;
                stash_entry[t*ENTRY_WIDTH +: ENTRY_WIDTH] <= moving[ENTRY_WIDTH-1:0];
            end
        kick_state <= K_IDLE;
    end
    default: ;
    endcase

    if (rst) begin
        clearing <= 1'b1;
        clear_index <= 0;
        r_busy <= 1'b0;
        s1_busy <= 1'b0;
        rd_pending <= 1'b0;
        found_busy <= 1'b0;
        found_full <= 1'b0;
        found_moves <= 1'b0;
        live_orders <= 32'd0;
        kick_state <= K_IDLE;
        kick_way <= 0;
        stash_valid <= 0;
    end
end

endmodule
