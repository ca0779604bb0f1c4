// feed_to_book behind an AXI DMA: the top packaged as the PYNQ overlay's IP.
//
//   s_axis (DMA MM2S: length-delimited frames) ─► dma_frame_splitter ─► feed_to_book ─►
//   bbo_dma_packetizer ─► m_axis (DMA S2MM: packets of BBO update records)
//   s_axil ─► feed_to_book's CSRs, unchanged (host/schema/csr.py at FEED_BASE, host/schema/book_csr.py at BOOK_BASE)
//
// Both streams are DATA_WIDTH wide, a width AXI DMA supports; the 336-bit
// record stream of feed_to_book never leaves the fabric. The gap strobes stay
// inside: the host reads the same facts from the last_gap_* registers.

module feed_to_book_dma #(
    parameter DATA_WIDTH = 64,
    parameter KEEP_WIDTH = DATA_WIDTH/8,
    parameter MAX_SYMBOLS = 4096,
    parameter ORDER_BUCKET_BITS = 14,
    parameter ORDER_WAYS = 4,
    parameter LEVELS = 64,
    parameter TOP_N = 8,
    parameter BLOCK_LEVELS = LEVELS < 8 ? LEVELS : 8,  // the level pool (order_book)
    parameter LEVEL_BLOCKS = 2 * MAX_SYMBOLS * LEVELS / BLOCK_LEVELS,
    parameter ULTRA_RAM = 0,  // 1: the book's large tables in UltraRAM (order_book)
    parameter HEAD_ULTRA_RAM = 0,  // 1: the level heads in UltraRAM too (order_book)
    parameter LEVEL_RAM_SLICE = 0,  // the level pool's block RAM in slices this wide (order_book)
    parameter RECORDS_PER_PACKET = 1024,
    parameter IDLE_CYCLES = 1024
) (
    input  wire                  clk,
    input  wire                  rst,

    input  wire [DATA_WIDTH-1:0] s_axis_tdata,
    input  wire [KEEP_WIDTH-1:0] s_axis_tkeep,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    input  wire                  s_axis_tlast,

    output wire [DATA_WIDTH-1:0] m_axis_tdata,
    output wire [KEEP_WIDTH-1:0] m_axis_tkeep,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output wire                  m_axis_tlast,

    input  wire [20:0]           s_axil_awaddr,
    input  wire [2:0]            s_axil_awprot,
    input  wire                  s_axil_awvalid,
    output wire                  s_axil_awready,
    input  wire [31:0]           s_axil_wdata,
    input  wire [3:0]            s_axil_wstrb,
    input  wire                  s_axil_wvalid,
    output wire                  s_axil_wready,
    output wire [1:0]            s_axil_bresp,
    output wire                  s_axil_bvalid,
    input  wire                  s_axil_bready,
    input  wire [20:0]           s_axil_araddr,
    input  wire [2:0]            s_axil_arprot,
    input  wire                  s_axil_arvalid,
    output wire                  s_axil_arready,
    output wire [31:0]           s_axil_rdata,
    output wire [1:0]            s_axil_rresp,
    output wire                  s_axil_rvalid,
    input  wire                  s_axil_rready
);

`include "bbo_update.vh"

// s_axis_tkeep is not needed: the frame length in each header says which bytes count.
wire [DATA_WIDTH-1:0] frame_tdata;
wire [KEEP_WIDTH-1:0] frame_tkeep;
wire frame_tvalid, frame_tready, frame_tlast, frame_tuser;

dma_frame_splitter #(.DATA_WIDTH(DATA_WIDTH), .KEEP_WIDTH(KEEP_WIDTH)) dma_frame_splitter_inst (
    .clk(clk), .rst(rst),
    .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
    .s_axis_tlast(s_axis_tlast),
    .m_axis_tdata(frame_tdata), .m_axis_tkeep(frame_tkeep), .m_axis_tvalid(frame_tvalid),
    .m_axis_tready(frame_tready), .m_axis_tlast(frame_tlast), .m_axis_tuser(frame_tuser)
);

wire [BBO_UPDATE_WIDTH-1:0] record_tdata;
wire record_tvalid, record_tready, record_tlast;
wire gap_valid;
wire [63:0] gap_first_seq, gap_count;

feed_to_book #(
    .DATA_WIDTH(DATA_WIDTH), .KEEP_WIDTH(KEEP_WIDTH), .MAX_SYMBOLS(MAX_SYMBOLS),
    .ORDER_BUCKET_BITS(ORDER_BUCKET_BITS), .ORDER_WAYS(ORDER_WAYS), .LEVELS(LEVELS), .TOP_N(TOP_N),
    .ULTRA_RAM(ULTRA_RAM), .HEAD_ULTRA_RAM(HEAD_ULTRA_RAM), .BLOCK_LEVELS(BLOCK_LEVELS), .LEVEL_BLOCKS(LEVEL_BLOCKS),
    .LEVEL_RAM_SLICE(LEVEL_RAM_SLICE)
) feed_to_book_inst (
    .clk(clk), .rst(rst),
    .s_axis_tdata(frame_tdata), .s_axis_tkeep(frame_tkeep), .s_axis_tvalid(frame_tvalid),
    .s_axis_tready(frame_tready), .s_axis_tlast(frame_tlast), .s_axis_tuser(frame_tuser),
    .m_axis_tdata(record_tdata), .m_axis_tvalid(record_tvalid), .m_axis_tready(record_tready),
    .m_axis_tlast(record_tlast),
    .gap_valid(gap_valid), .gap_first_seq(gap_first_seq), .gap_count(gap_count),
    .s_axil_awaddr(s_axil_awaddr), .s_axil_awprot(s_axil_awprot), .s_axil_awvalid(s_axil_awvalid),
    .s_axil_awready(s_axil_awready), .s_axil_wdata(s_axil_wdata), .s_axil_wstrb(s_axil_wstrb),
    .s_axil_wvalid(s_axil_wvalid), .s_axil_wready(s_axil_wready), .s_axil_bresp(s_axil_bresp),
    .s_axil_bvalid(s_axil_bvalid), .s_axil_bready(s_axil_bready),
    .s_axil_araddr(s_axil_araddr), .s_axil_arprot(s_axil_arprot), .s_axil_arvalid(s_axil_arvalid),
    .s_axil_arready(s_axil_arready), .s_axil_rdata(s_axil_rdata), .s_axil_rresp(s_axil_rresp),
    .s_axil_rvalid(s_axil_rvalid), .s_axil_rready(s_axil_rready)
);

bbo_dma_packetizer #(
    .RECORD_WIDTH(BBO_UPDATE_WIDTH), .DATA_WIDTH(DATA_WIDTH), .KEEP_WIDTH(KEEP_WIDTH),
    .RECORDS_PER_PACKET(RECORDS_PER_PACKET), .IDLE_CYCLES(IDLE_CYCLES)
) bbo_dma_packetizer_inst (
    .clk(clk), .rst(rst),
    .s_axis_tdata(record_tdata), .s_axis_tvalid(record_tvalid), .s_axis_tready(record_tready),
    .m_axis_tdata(m_axis_tdata), .m_axis_tkeep(m_axis_tkeep), .m_axis_tvalid(m_axis_tvalid),
    .m_axis_tready(m_axis_tready), .m_axis_tlast(m_axis_tlast)
);

endmodule
