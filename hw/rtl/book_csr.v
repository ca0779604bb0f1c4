// Order book registers on AXI4-Lite: identity, sizes, live counts, counters, and
// the windows onto the stale flags (read; write 1s to clear) and the symbol table.
//
// The map comes from book_csr_map.vh, generated from host/schema/book_csr.py. Counter k
// adds stat_inc[k] every cycle (a cycle later). The windows read the book's memories through
// their second ports (data one cycle after the address), so a read answers two
// cycles after its address is taken; register reads answer in one. A write of
// the stale window is handed to the book (stale_clear_*), which applies it
// between events; the write is answered, and the next one taken, once it has. Unmapped addresses read 0
// and ignore writes; every access answers OKAY.

module book_csr #(
    parameter ADDR_WIDTH = 20,
    parameter COUNTER_COUNT = 13,
    parameter STATUS_COUNT = 8,
    parameter MAX_SYMBOLS = 4096
) (
    input  wire                        clk,
    input  wire                        rst,

    input  wire [ADDR_WIDTH-1:0]       s_axil_awaddr,
    input  wire [2:0]                  s_axil_awprot,
    input  wire                        s_axil_awvalid,
    output wire                        s_axil_awready,
    input  wire [31:0]                 s_axil_wdata,
    input  wire [3:0]                  s_axil_wstrb,
    input  wire                        s_axil_wvalid,
    output wire                        s_axil_wready,
    output wire [1:0]                  s_axil_bresp,
    output reg                         s_axil_bvalid,
    input  wire                        s_axil_bready,
    input  wire [ADDR_WIDTH-1:0]       s_axil_araddr,
    input  wire [2:0]                  s_axil_arprot,
    input  wire                        s_axil_arvalid,
    output wire                        s_axil_arready,
    output reg  [31:0]                 s_axil_rdata,
    output wire [1:0]                  s_axil_rresp,
    output reg                         s_axil_rvalid,
    input  wire                        s_axil_rready,

    output reg                         stale_clear_valid,
    input  wire                        stale_clear_ready,
    output reg  [LOCATE_WIDTH-6:0]     stale_clear_word,
    output reg  [31:0]                 stale_clear_mask,
    output wire [LOCATE_WIDTH-6:0]     csr_stale_addr,
    input  wire [31:0]                 csr_stale_data,
    output wire [LOCATE_WIDTH-1:0]     csr_symbol_addr,
    input  wire [63:0]                 csr_symbol_data,

    input  wire [STATUS_COUNT*32-1:0]  status,
    input  wire [COUNTER_COUNT-1:0]    stat_inc
);

`include "book_csr_map.vh"

localparam LOCATE_WIDTH = $clog2(MAX_SYMBOLS);
// Each window spans a power of two of bytes at a multiple of it, so an address is in it when its
// high bits equal the base's, and its offset is its low bits: no subtract in front of a compare
// on the read address's way to s_axil_rdata.
localparam COUNTER_SPAN_LOG2 = $clog2(4 * COUNTER_COUNT);
localparam STALE_SPAN_LOG2 = LOCATE_WIDTH - 3;   // MAX_SYMBOLS / 8 bytes: 32 flags a word
localparam SYMBOL_SPAN_LOG2 = LOCATE_WIDTH + 3;  // 8 bytes a symbol

initial begin
    if (ADDR_WIDTH != BOOK_CSR_ADDR_WIDTH || COUNTER_COUNT != BOOK_CSR_COUNTER_COUNT
            || STATUS_COUNT != BOOK_CSR_STATUS_COUNT) begin
        $error("book_csr: parameters must match book_csr_map.vh");
        $finish;
    end
    if (MAX_SYMBOLS < 64 || 8 * MAX_SYMBOLS > (1 << ADDR_WIDTH) - BOOK_CSR_SYMBOL_BASE
            || MAX_SYMBOLS / 8 > BOOK_CSR_SYMBOL_BASE - BOOK_CSR_STALE_BASE) begin
        $error("book_csr: MAX_SYMBOLS does not fit the stale and symbol windows");
        $finish;
    end
    if (BOOK_CSR_COUNTER_BASE % (1 << COUNTER_SPAN_LOG2) != 0 || BOOK_CSR_STALE_BASE % (1 << STALE_SPAN_LOG2) != 0
            || BOOK_CSR_SYMBOL_BASE % (1 << SYMBOL_SPAN_LOG2) != 0) begin
        $error("book_csr: each window's base must be a multiple of its span");
        $finish;
    end
end

reg [31:0] counter [0:COUNTER_COUNT-1];
reg [COUNTER_COUNT-1:0] inc;  // stat_inc, registered: a counter's add starts at a flip-flop, not behind the book's strobes
localparam COUNTER_INDEX_WIDTH = $clog2(COUNTER_COUNT);

wire write_fire = s_axil_awvalid && s_axil_wvalid && !s_axil_bvalid && !stale_clear_valid;
assign s_axil_awready = write_fire;
assign s_axil_wready = write_fire;
assign s_axil_bresp = 2'b00;

reg read_busy;   // a window read waits for its memory
reg read_window; // ... and reads the symbol table (else the stale flags)
reg read_low;    // ... the symbol's last four characters
wire read_fire = s_axil_arvalid && !s_axil_rvalid && !read_busy;
assign s_axil_arready = read_fire;
assign s_axil_rresp = 2'b00;

wire [ADDR_WIDTH-1:0] write_addr = {s_axil_awaddr[ADDR_WIDTH-1:2], 2'b00};
wire [ADDR_WIDTH-1:0] read_addr = {s_axil_araddr[ADDR_WIDTH-1:2], 2'b00};
wire in_counter = read_addr >> COUNTER_SPAN_LOG2 == BOOK_CSR_COUNTER_BASE >> COUNTER_SPAN_LOG2
                  && read_addr[COUNTER_SPAN_LOG2-1:2] < COUNTER_COUNT;
wire in_stale_read = read_addr >> STALE_SPAN_LOG2 == BOOK_CSR_STALE_BASE >> STALE_SPAN_LOG2;
wire in_stale_write = write_addr >> STALE_SPAN_LOG2 == BOOK_CSR_STALE_BASE >> STALE_SPAN_LOG2;
wire in_symbol = read_addr >> SYMBOL_SPAN_LOG2 == BOOK_CSR_SYMBOL_BASE >> SYMBOL_SPAN_LOG2;

assign csr_stale_addr = read_addr[LOCATE_WIDTH-4:2];
assign csr_symbol_addr = read_addr[LOCATE_WIDTH+2:3];

reg [31:0] read_value;
always @* begin
    read_value = 32'd0;
    if (in_counter) begin
        read_value = counter[read_addr[COUNTER_INDEX_WIDTH+1:2]];
    end else begin
        case (read_addr)
            BOOK_CSR_BOOK_ID:         read_value = BOOK_CSR_DEVICE_ID;
            BOOK_CSR_MAX_SYMBOLS:     read_value = status[BOOK_STATUS_MAX_SYMBOLS*32 +: 32];
            BOOK_CSR_ORDER_CAPACITY:  read_value = status[BOOK_STATUS_ORDER_CAPACITY*32 +: 32];
            BOOK_CSR_LEVELS_PER_SIDE: read_value = status[BOOK_STATUS_LEVELS_PER_SIDE*32 +: 32];
            BOOK_CSR_TOP_N:           read_value = status[BOOK_STATUS_TOP_N*32 +: 32];
            BOOK_CSR_LIVE_ORDERS:     read_value = status[BOOK_STATUS_LIVE_ORDERS*32 +: 32];
            BOOK_CSR_STALE_SYMBOLS:   read_value = status[BOOK_STATUS_STALE_SYMBOLS*32 +: 32];
            BOOK_CSR_LEVEL_POOL:      read_value = status[BOOK_STATUS_LEVEL_POOL*32 +: 32];
            BOOK_CSR_LEVEL_BLOCKS_FREE: read_value = status[BOOK_STATUS_LEVEL_BLOCKS_FREE*32 +: 32];
            default:                  read_value = 32'd0;
        endcase
    end
end

integer k;
always @(posedge clk) begin
    for (k = 0; k < COUNTER_COUNT; k = k + 1)
        counter[k] <= counter[k] + inc[k];
    inc <= stat_inc;

    if (stale_clear_valid && stale_clear_ready) begin
        stale_clear_valid <= 1'b0;
        s_axil_bvalid <= 1'b1;
    end
    if (s_axil_bvalid && s_axil_bready)
        s_axil_bvalid <= 1'b0;
    if (write_fire) begin
        s_axil_bvalid <= !(in_stale_write && s_axil_wstrb == 4'hF);
        if (in_stale_write && s_axil_wstrb == 4'hF) begin
            stale_clear_valid <= 1'b1;
            stale_clear_word <= write_addr[LOCATE_WIDTH-4:2];
            stale_clear_mask <= s_axil_wdata;
        end
    end

    if (s_axil_rvalid && s_axil_rready)
        s_axil_rvalid <= 1'b0;
    if (read_fire) begin
        if (in_stale_read || in_symbol) begin
            read_busy <= 1'b1;
            read_window <= in_symbol;
            read_low <= read_addr[2];
        end else begin
            s_axil_rvalid <= 1'b1;
            s_axil_rdata <= read_value;
        end
    end
    if (read_busy) begin
        read_busy <= 1'b0;
        s_axil_rvalid <= 1'b1;
        s_axil_rdata <= !read_window ? csr_stale_data
                      : read_low ? csr_symbol_data[31:0] : csr_symbol_data[63:32];
    end

    if (rst) begin
        for (k = 0; k < COUNTER_COUNT; k = k + 1)
            counter[k] <= 32'd0;
        inc <= 0;
        s_axil_bvalid <= 1'b0;
        s_axil_rvalid <= 1'b0;
        read_busy <= 1'b0;
        stale_clear_valid <= 1'b0;
    end
end

endmodule
