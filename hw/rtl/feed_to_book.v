// Feed to book: Ethernet frames in, BBO update records out, one AXI4-Lite port.
//
//   s_axis ─► feed_handler ─► book events ─► order_book ─► m_axis (BBO / symbol records)
//   s_axil ─► axil_split ─┬─► feed handler registers (host/schema/csr.py)      at TOP_CSR_FEED_BASE
//                         └─► book_csr: counters, stale flags, symbols  at TOP_CSR_BOOK_BASE
//
// Backpressure from m_axis stalls the book, then the feed handler, up to
// s_axis_tready; nothing is dropped for lack of room.

module feed_to_book #(
    parameter DATA_WIDTH = 64,
    parameter KEEP_WIDTH = DATA_WIDTH/8,
    parameter MAX_SYMBOLS = 4096,
    parameter ORDER_BUCKET_BITS = 14,
    parameter ORDER_WAYS = 4,
    parameter LEVELS = 64,
    parameter TOP_N = 8,
    parameter BLOCK_LEVELS = LEVELS < 8 ? LEVELS : 8,  // the level pool (order_book)
    parameter LEVEL_BLOCKS = 2 * MAX_SYMBOLS * LEVELS / BLOCK_LEVELS,
    parameter DEPTH_OUT = 0,  // levels per side in each record (order_book); 0: BBO only
    parameter ULTRA_RAM = 0,  // 1: the book's large tables in UltraRAM (order_book)
    parameter HEAD_ULTRA_RAM = 0,  // 1: the level heads in UltraRAM too (order_book)
    parameter LEVEL_RAM_SLICE = 0,  // the level pool's block RAM in slices this wide (order_book)
    parameter OUT_WIDTH = 336 + DEPTH_OUT * 128  // BBO_UPDATE_WIDTH + DEPTH_OUT * BBO_LEVEL_WIDTH
) (
    input  wire                    clk,
    input  wire                    rst,

    input  wire [DATA_WIDTH-1:0]   s_axis_tdata,
    input  wire [KEEP_WIDTH-1:0]   s_axis_tkeep,
    input  wire                    s_axis_tvalid,
    output wire                    s_axis_tready,
    input  wire                    s_axis_tlast,
    input  wire                    s_axis_tuser,

    output wire [OUT_WIDTH-1:0]    m_axis_tdata,
    output wire                    m_axis_tvalid,
    input  wire                    m_axis_tready,
    output wire                    m_axis_tlast,

    output wire                    gap_valid,
    output wire [63:0]             gap_first_seq,
    output wire [63:0]             gap_count,

    input  wire [20:0]             s_axil_awaddr,
    input  wire [2:0]              s_axil_awprot,
    input  wire                    s_axil_awvalid,
    output wire                    s_axil_awready,
    input  wire [31:0]             s_axil_wdata,
    input  wire [3:0]              s_axil_wstrb,
    input  wire                    s_axil_wvalid,
    output wire                    s_axil_wready,
    output wire [1:0]              s_axil_bresp,
    output wire                    s_axil_bvalid,
    input  wire                    s_axil_bready,
    input  wire [20:0]             s_axil_araddr,
    input  wire [2:0]              s_axil_arprot,
    input  wire                    s_axil_arvalid,
    output wire                    s_axil_arready,
    output wire [31:0]             s_axil_rdata,
    output wire [1:0]              s_axil_rresp,
    output wire                    s_axil_rvalid,
    input  wire                    s_axil_rready
);

`include "book_event.vh"
`include "bbo_update.vh"
`include "book_csr_map.vh"

localparam LOCATE_WIDTH = $clog2(MAX_SYMBOLS);

initial begin
    if (BOOK_EVENT_WIDTH != 336 || BBO_UPDATE_WIDTH != 336 || BBO_LEVEL_WIDTH != 128
            || OUT_WIDTH != BBO_UPDATE_WIDTH + DEPTH_OUT * BBO_LEVEL_WIDTH || TOP_CSR_ADDR_WIDTH != 21) begin
        $error("feed_to_book: port widths must follow book_event.vh, bbo_update.vh, book_csr_map.vh");
        $finish;
    end
end

// ---- AXI4-Lite split ----

wire [11:0] feed_awaddr, feed_araddr;
wire [2:0]  feed_awprot, feed_arprot;
wire feed_awvalid, feed_awready, feed_wvalid, feed_wready, feed_bvalid, feed_bready;
wire feed_arvalid, feed_arready, feed_rvalid, feed_rready;
wire [31:0] feed_wdata, feed_rdata;
wire [3:0]  feed_wstrb;
wire [1:0]  feed_bresp, feed_rresp;

wire [BOOK_CSR_ADDR_WIDTH-1:0] book_awaddr, book_araddr;
wire [2:0]  book_awprot, book_arprot;
wire book_awvalid, book_awready, book_wvalid, book_wready, book_bvalid, book_bready;
wire book_arvalid, book_arready, book_rvalid, book_rready;
wire [31:0] book_wdata, book_rdata;
wire [3:0]  book_wstrb;
wire [1:0]  book_bresp, book_rresp;

axil_split #(
    .ADDR_WIDTH(TOP_CSR_ADDR_WIDTH), .SELECT_BIT(TOP_CSR_ADDR_WIDTH - 1),
    .ADDR_A_WIDTH(12), .ADDR_B_WIDTH(BOOK_CSR_ADDR_WIDTH)
) axil_split_inst (
    .clk(clk), .rst(rst),
    .s_axil_awaddr(s_axil_awaddr), .s_axil_awprot(s_axil_awprot), .s_axil_awvalid(s_axil_awvalid),
    .s_axil_awready(s_axil_awready), .s_axil_wdata(s_axil_wdata), .s_axil_wstrb(s_axil_wstrb),
    .s_axil_wvalid(s_axil_wvalid), .s_axil_wready(s_axil_wready), .s_axil_bresp(s_axil_bresp),
    .s_axil_bvalid(s_axil_bvalid), .s_axil_bready(s_axil_bready),
    .s_axil_araddr(s_axil_araddr), .s_axil_arprot(s_axil_arprot), .s_axil_arvalid(s_axil_arvalid),
    .s_axil_arready(s_axil_arready), .s_axil_rdata(s_axil_rdata), .s_axil_rresp(s_axil_rresp),
    .s_axil_rvalid(s_axil_rvalid), .s_axil_rready(s_axil_rready),
    .m_axil_a_awaddr(feed_awaddr), .m_axil_a_awprot(feed_awprot), .m_axil_a_awvalid(feed_awvalid),
    .m_axil_a_awready(feed_awready), .m_axil_a_wdata(feed_wdata), .m_axil_a_wstrb(feed_wstrb),
    .m_axil_a_wvalid(feed_wvalid), .m_axil_a_wready(feed_wready), .m_axil_a_bresp(feed_bresp),
    .m_axil_a_bvalid(feed_bvalid), .m_axil_a_bready(feed_bready),
    .m_axil_a_araddr(feed_araddr), .m_axil_a_arprot(feed_arprot), .m_axil_a_arvalid(feed_arvalid),
    .m_axil_a_arready(feed_arready), .m_axil_a_rdata(feed_rdata), .m_axil_a_rresp(feed_rresp),
    .m_axil_a_rvalid(feed_rvalid), .m_axil_a_rready(feed_rready),
    .m_axil_b_awaddr(book_awaddr), .m_axil_b_awprot(book_awprot), .m_axil_b_awvalid(book_awvalid),
    .m_axil_b_awready(book_awready), .m_axil_b_wdata(book_wdata), .m_axil_b_wstrb(book_wstrb),
    .m_axil_b_wvalid(book_wvalid), .m_axil_b_wready(book_wready), .m_axil_b_bresp(book_bresp),
    .m_axil_b_bvalid(book_bvalid), .m_axil_b_bready(book_bready),
    .m_axil_b_araddr(book_araddr), .m_axil_b_arprot(book_arprot), .m_axil_b_arvalid(book_arvalid),
    .m_axil_b_arready(book_arready), .m_axil_b_rdata(book_rdata), .m_axil_b_rresp(book_rresp),
    .m_axil_b_rvalid(book_rvalid), .m_axil_b_rready(book_rready)
);

// ---- feed handler ----

wire [BOOK_EVENT_WIDTH-1:0] event_tdata;
wire event_tvalid, event_tready, event_tlast;

feed_handler #(.DATA_WIDTH(DATA_WIDTH), .KEEP_WIDTH(KEEP_WIDTH)) feed_handler_inst (
    .clk(clk), .rst(rst),
    .s_axis_tdata(s_axis_tdata), .s_axis_tkeep(s_axis_tkeep), .s_axis_tvalid(s_axis_tvalid),
    .s_axis_tready(s_axis_tready), .s_axis_tlast(s_axis_tlast), .s_axis_tuser(s_axis_tuser),
    .m_axis_tdata(event_tdata), .m_axis_tvalid(event_tvalid), .m_axis_tready(event_tready),
    .m_axis_tlast(event_tlast),
    .gap_valid(gap_valid), .gap_first_seq(gap_first_seq), .gap_count(gap_count),
    .s_axil_awaddr(feed_awaddr), .s_axil_awprot(feed_awprot), .s_axil_awvalid(feed_awvalid),
    .s_axil_awready(feed_awready), .s_axil_wdata(feed_wdata), .s_axil_wstrb(feed_wstrb),
    .s_axil_wvalid(feed_wvalid), .s_axil_wready(feed_wready), .s_axil_bresp(feed_bresp),
    .s_axil_bvalid(feed_bvalid), .s_axil_bready(feed_bready),
    .s_axil_araddr(feed_araddr), .s_axil_arprot(feed_arprot), .s_axil_arvalid(feed_arvalid),
    .s_axil_arready(feed_arready), .s_axil_rdata(feed_rdata), .s_axil_rresp(feed_rresp),
    .s_axil_rvalid(feed_rvalid), .s_axil_rready(feed_rready)
);

// ---- book ----

wire stale_clear_valid, stale_clear_ready;
wire [LOCATE_WIDTH-6:0] stale_clear_word, csr_stale_addr;
wire [31:0] stale_clear_mask, csr_stale_data;
wire [LOCATE_WIDTH-1:0] csr_symbol_addr;
wire [63:0] csr_symbol_data;
wire [BOOK_CSR_STATUS_COUNT*32-1:0] status;
wire [BOOK_CSR_COUNTER_COUNT-1:0] stat_inc;

order_book #(
    .MAX_SYMBOLS(MAX_SYMBOLS), .ORDER_BUCKET_BITS(ORDER_BUCKET_BITS), .ORDER_WAYS(ORDER_WAYS),
    .LEVELS(LEVELS), .TOP_N(TOP_N), .DEPTH_OUT(DEPTH_OUT), .ULTRA_RAM(ULTRA_RAM), .HEAD_ULTRA_RAM(HEAD_ULTRA_RAM), .OUT_WIDTH(OUT_WIDTH),
    .BLOCK_LEVELS(BLOCK_LEVELS), .LEVEL_BLOCKS(LEVEL_BLOCKS), .LEVEL_RAM_SLICE(LEVEL_RAM_SLICE)
) order_book_inst (
    .clk(clk), .rst(rst),
    .s_axis_tdata(event_tdata), .s_axis_tvalid(event_tvalid), .s_axis_tready(event_tready),
    .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready),
    .m_axis_tlast(m_axis_tlast),
    .stale_clear_valid(stale_clear_valid), .stale_clear_ready(stale_clear_ready),
    .stale_clear_word(stale_clear_word), .stale_clear_mask(stale_clear_mask),
    .csr_stale_addr(csr_stale_addr), .csr_stale_data(csr_stale_data),
    .csr_symbol_addr(csr_symbol_addr), .csr_symbol_data(csr_symbol_data),
    .status_live_orders(status[BOOK_STATUS_LIVE_ORDERS*32 +: 32]),
    .status_stale_symbols(status[BOOK_STATUS_STALE_SYMBOLS*32 +: 32]),
    .status_free_blocks(status[BOOK_STATUS_LEVEL_BLOCKS_FREE*32 +: 32]),
    .stat_event(stat_inc[BOOK_CNT_EVENTS]),
    .stat_bbo_update(stat_inc[BOOK_CNT_BBO_UPDATES]),
    .stat_symbol_update(stat_inc[BOOK_CNT_SYMBOL_UPDATES]),
    .stat_unknown_ref(stat_inc[BOOK_CNT_UNKNOWN_ORDER_REF]),
    .stat_duplicate_ref(stat_inc[BOOK_CNT_DUPLICATE_ORDER_REF]),
    .stat_overfill(stat_inc[BOOK_CNT_OVERFILL]),
    .stat_zero_share_add(stat_inc[BOOK_CNT_ZERO_SHARE_ADD]),
    .stat_order_store_full(stat_inc[BOOK_CNT_ORDER_STORE_FULL]),
    .stat_level_store_full(stat_inc[BOOK_CNT_LEVEL_STORE_FULL]),
    .stat_locate_range(stat_inc[BOOK_CNT_LOCATE_OUT_OF_RANGE]),
    .stat_stale_raised(stat_inc[BOOK_CNT_STALE_RAISED]),
    .stat_level_scan(stat_inc[BOOK_CNT_LEVEL_SCANS])
);

assign stat_inc[BOOK_CNT_STALL_OUT] = m_axis_tvalid && !m_axis_tready;
assign status[BOOK_STATUS_MAX_SYMBOLS*32 +: 32] = MAX_SYMBOLS;
assign status[BOOK_STATUS_ORDER_CAPACITY*32 +: 32] = ORDER_WAYS << ORDER_BUCKET_BITS;
assign status[BOOK_STATUS_LEVELS_PER_SIDE*32 +: 32] = LEVELS;
assign status[BOOK_STATUS_TOP_N*32 +: 32] = TOP_N;
assign status[BOOK_STATUS_LEVEL_POOL*32 +: 32] = LEVEL_BLOCKS * BLOCK_LEVELS;

book_csr #(
    .ADDR_WIDTH(BOOK_CSR_ADDR_WIDTH), .COUNTER_COUNT(BOOK_CSR_COUNTER_COUNT),
    .STATUS_COUNT(BOOK_CSR_STATUS_COUNT), .MAX_SYMBOLS(MAX_SYMBOLS)
) book_csr_inst (
    .clk(clk), .rst(rst),
    .s_axil_awaddr(book_awaddr), .s_axil_awprot(book_awprot), .s_axil_awvalid(book_awvalid),
    .s_axil_awready(book_awready), .s_axil_wdata(book_wdata), .s_axil_wstrb(book_wstrb),
    .s_axil_wvalid(book_wvalid), .s_axil_wready(book_wready), .s_axil_bresp(book_bresp),
    .s_axil_bvalid(book_bvalid), .s_axil_bready(book_bready),
    .s_axil_araddr(book_araddr), .s_axil_arprot(book_arprot), .s_axil_arvalid(book_arvalid),
    .s_axil_arready(book_arready), .s_axil_rdata(book_rdata), .s_axil_rresp(book_rresp),
    .s_axil_rvalid(book_rvalid), .s_axil_rready(book_rready),
    .stale_clear_valid(stale_clear_valid), .stale_clear_ready(stale_clear_ready),
    .stale_clear_word(stale_clear_word), .stale_clear_mask(stale_clear_mask),
    .csr_stale_addr(csr_stale_addr), .csr_stale_data(csr_stale_data),
    .csr_symbol_addr(csr_symbol_addr), .csr_symbol_data(csr_symbol_data),
    .status(status), .stat_inc(stat_inc)
);

endmodule
