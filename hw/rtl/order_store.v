// Order store: order reference -> (stock locate, side, price, shares, level slot).
//
// Structure: a bucketed hash table in one block RAM. A bucket holds WAYS
// entries in one wide word, so a lookup is one read and all ways are compared
// at once; there is no probing chain, and deleting is clearing a valid bit
// (no tombstones, no backward shift). ITCH references only grow through a
// day, so the bucket index is the low BUCKET_BITS of the reference XOR the
// next BUCKET_BITS: consecutive references fill buckets evenly, and two live
// references that differ by a multiple of the bucket count (an old resting
// order and a new one) land in different buckets. The tag is the reference
// above the index bits, which with the index gives back the whole reference.
// An add that finds its bucket full is refused (find_free = 0): the caller
// counts it and flags the symbol stale; no other order is ever displaced.
//
// Sizing: CAPACITY = BUCKETS * WAYS. Default 2^14 * 4 = 2^16 orders
// (simulation). A real day peaks near 10^6 live orders: BUCKET_BITS = 18,
// WAYS = 4 gives 2^20 slots at ~150 bits each = 4 Mbit per way-column, i.e.
// 160 Mbit in UltraRAM (4 KB x 72 bit blocks: 128 URAMs on a VU9P-class part).
//
// Interface: one operation at a time while op_ready.
//   find  (op_find, op_ref): reads the ref's bucket; one cycle later
//         find_valid pulses with find_hit/find_entry, and find_free says
//         whether a way is free. The bucket and the way (the hit, else the
//         first free one) are held for the next write.
//   write (op_write, op_write_valid, op_entry): writes the held way: an
//         update (valid 1), a delete (valid 0) or an insert into the free way.
// After rst, the RAM is cleared one bucket per cycle; op_ready is low then.

module order_store #(
    parameter BUCKET_BITS = 14,
    parameter WAYS = 4,
    parameter LOCATE_WIDTH = 12,
    parameter SLOT_WIDTH = 6,
    parameter ULTRA_RAM = 0  // 1: the table in UltraRAM (sdp_ram)
) (
    input  wire                    clk,
    input  wire                    rst,

    output wire                    op_ready,
    input  wire                    op_find,
    input  wire [63:0]             op_ref,
    input  wire                    op_write,
    input  wire                    op_write_valid,
    input  wire [ENTRY_WIDTH-1:0]  op_entry,

    output reg                     find_valid,
    output wire                    find_hit,
    output wire                    find_free,
    output wire [ENTRY_WIDTH-1:0]  find_entry,

    output reg  [31:0]             live_orders
);

// entry = {slot, shares, price, side, locate}; side 1 = sell
localparam ENTRY_WIDTH = SLOT_WIDTH + 32 + 32 + 1 + LOCATE_WIDTH;
localparam TAG_WIDTH = 64 - BUCKET_BITS;
localparam WAY_WIDTH = 1 + TAG_WIDTH + ENTRY_WIDTH;  // {valid, tag, entry}
localparam BUCKET_WIDTH = WAYS * WAY_WIDTH;
localparam BUCKETS = 1 << BUCKET_BITS;

initial begin
    if (BUCKET_BITS < 1 || BUCKET_BITS > 32 || WAYS < 1 || WAYS > 16
            || LOCATE_WIDTH < 1 || LOCATE_WIDTH > 16 || SLOT_WIDTH < 1) begin
        $error("order_store: BUCKET_BITS 1..32, WAYS 1..16, LOCATE_WIDTH 1..16, SLOT_WIDTH >= 1");
        $finish;
    end
end


function [BUCKET_BITS-1:0] bucket_of;
    input [63:0] order_ref;
    begin
        bucket_of = order_ref[BUCKET_BITS-1:0] ^ order_ref[2*BUCKET_BITS-1:BUCKET_BITS];
    end
endfunction

reg                     clearing;
reg [BUCKET_BITS:0]     clear_index;
reg [BUCKET_BITS-1:0]   held_index;
reg [TAG_WIDTH-1:0]     held_tag;
reg [BUCKET_WIDTH-1:0]  held_bucket;
reg                     read_pending;
wire [BUCKET_WIDTH-1:0] read_data;
reg [$clog2(WAYS+1)-1:0] held_way;
reg                     held_hit;

assign op_ready = !clearing;

// Compare the bucket just read with the held tag: the hit way, else the first free way.
// The hit entry is picked inside the loop, not by a part-select at hit_way*WAY_WIDTH,
// which would be a barrel shifter across the bucket.
reg [$clog2(WAYS+1)-1:0] hit_way, free_way;
reg any_hit, any_free;
reg [ENTRY_WIDTH-1:0] hit_entry;
integer w;
always @* begin
    any_hit = 1'b0;
    any_free = 1'b0;
    hit_way = 0;
    free_way = 0;
    hit_entry = 0;
    for (w = WAYS - 1; w >= 0; w = w - 1) begin
        if (read_data[w*WAY_WIDTH + WAY_WIDTH - 1]) begin
            if (read_data[w*WAY_WIDTH + ENTRY_WIDTH +: TAG_WIDTH] == held_tag) begin
                any_hit = 1'b1;
                hit_way = w;
                hit_entry = read_data[w*WAY_WIDTH +: ENTRY_WIDTH];
            end
        end else begin
            any_free = 1'b1;
            free_way = w;
        end
    end
end

assign find_hit = any_hit;
assign find_free = any_free;
assign find_entry = hit_entry;

wire [BUCKET_WIDTH-1:0] bucket_now = read_pending ? read_data : held_bucket;
wire [$clog2(WAYS+1)-1:0] way_now = read_pending ? (any_hit ? hit_way : free_way) : held_way;
wire hit_now = read_pending ? any_hit : held_hit;

reg [BUCKET_WIDTH-1:0] written;
integer v;
always @* begin
    written = bucket_now;
    for (v = 0; v < WAYS; v = v + 1)
        if (v == way_now)
            written[v*WAY_WIDTH +: WAY_WIDTH] = {op_write_valid, held_tag, op_entry};
end

// The RAM has one write port (the clear sweep after reset, else the held
// bucket) and one synchronous read port, the shape Yosys maps to block RAM or
// UltraRAM; a find and a write never share a cycle.
wire                    write_now = !clearing && !op_find && op_write;
wire                    ram_we    = clearing || write_now;
wire [BUCKET_BITS-1:0]  ram_waddr = clearing ? clear_index[BUCKET_BITS-1:0] : held_index;
wire [BUCKET_WIDTH-1:0] ram_wdata = clearing ? {BUCKET_WIDTH{1'b0}} : written;
wire                    ram_re    = !clearing && op_find;

sdp_ram #(.WIDTH(BUCKET_WIDTH), .DEPTH(BUCKETS), .ULTRA(ULTRA_RAM), .ADDR_WIDTH(BUCKET_BITS)) ram (
    .clk(clk), .we(ram_we), .waddr(ram_waddr), .wdata(ram_wdata),
    .re(ram_re), .raddr(bucket_of(op_ref)), .rdata(read_data)
);

always @(posedge clk) begin
    find_valid <= 1'b0;
    read_pending <= 1'b0;
    if (read_pending) begin
        held_bucket <= read_data;
        held_way <= any_hit ? hit_way : free_way;
        held_hit <= any_hit;
    end
    if (clearing) begin
        clear_index <= clear_index + 1'b1;
        if (clear_index == BUCKETS - 1)
            clearing <= 1'b0;
    end else if (op_find) begin
        held_index <= bucket_of(op_ref);
        held_tag <= op_ref[63:BUCKET_BITS];
        read_pending <= 1'b1;
        find_valid <= 1'b1;
    end else if (op_write) begin
        held_bucket <= written;
        held_hit <= op_write_valid;
        if (op_write_valid && !hit_now)
            live_orders <= live_orders + 1'b1;
        else if (!op_write_valid && hit_now)
            live_orders <= live_orders - 1'b1;
    end
    if (rst) begin
        clearing <= 1'b1;
        clear_index <= 0;
        find_valid <= 1'b0;
        read_pending <= 1'b0;
        live_orders <= 32'd0;
    end
end

endmodule
