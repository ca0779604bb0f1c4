// Feed handler control and status registers on AXI4-Lite.
//
// The register map comes from feed_csr_map.vh, generated from host/schema/csr.py.
// Configuration registers drive cfg_*; status registers read status_*
// (32 bits each, in STATUS_* order); counter k adds stat_inc[32k+31:32k]
// every cycle and reads at CSR_COUNTER_BASE + 4k. Unmapped addresses read 0
// and ignore writes; every access answers OKAY. One read and one write are
// served at a time, each in one cycle plus the response handshake.

module feed_csr #(
    parameter ADDR_WIDTH = 12,
    parameter COUNTER_COUNT = 47,
    parameter STATUS_COUNT = 5
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

    output reg                         cfg_enable,
    output reg  [31:0]                 cfg_dest_ip,
    output reg  [15:0]                 cfg_dest_port,

    input  wire [STATUS_COUNT*32-1:0]  status,
    input  wire [COUNTER_COUNT*32-1:0] stat_inc
);

`include "feed_csr_map.vh"

initial begin
    if (ADDR_WIDTH != CSR_ADDR_WIDTH || COUNTER_COUNT != CSR_COUNTER_COUNT
            || STATUS_COUNT != CSR_STATUS_COUNT) begin
        $error("feed_csr: parameters must match feed_csr_map.vh");
        $finish;
    end
end

reg [31:0] counter [0:COUNTER_COUNT-1];

// A write is taken when address and data are both there and no response waits.
wire write_fire = s_axil_awvalid && s_axil_wvalid && !s_axil_bvalid;
assign s_axil_awready = write_fire;
assign s_axil_wready = write_fire;
assign s_axil_bresp = 2'b00;

wire read_fire = s_axil_arvalid && !s_axil_rvalid;
assign s_axil_arready = read_fire;
assign s_axil_rresp = 2'b00;

wire [ADDR_WIDTH-1:0] write_addr = {s_axil_awaddr[ADDR_WIDTH-1:2], 2'b00};
wire [ADDR_WIDTH-1:0] read_addr = {s_axil_araddr[ADDR_WIDTH-1:2], 2'b00};
wire [ADDR_WIDTH-1:0] counter_offset = read_addr - CSR_COUNTER_BASE;

function [31:0] merge_bytes;
    input [31:0] old_value;
    input [31:0] new_value;
    input [3:0]  strobe;
    integer b;
    begin
        for (b = 0; b < 4; b = b + 1)
            merge_bytes[b*8 +: 8] = strobe[b] ? new_value[b*8 +: 8] : old_value[b*8 +: 8];
    end
endfunction

reg [31:0] read_value;
always @* begin
    read_value = 32'd0;
    if (read_addr >= CSR_COUNTER_BASE) begin
        if (counter_offset[ADDR_WIDTH-1:2] < COUNTER_COUNT)
            read_value = counter[counter_offset[ADDR_WIDTH-1:2]];
    end else begin
        case (read_addr)
            CSR_DEVICE_ID:         read_value = CSR_DEVICE_ID_RESET;
            CSR_CONTROL:           read_value = {31'd0, cfg_enable};
            CSR_FILTER_IP:         read_value = cfg_dest_ip;
            CSR_FILTER_PORT:       read_value = {16'd0, cfg_dest_port};
            CSR_EXPECTED_SEQ_LO:   read_value = status[STATUS_EXPECTED_SEQ_LO*32 +: 32];
            CSR_EXPECTED_SEQ_HI:   read_value = status[STATUS_EXPECTED_SEQ_HI*32 +: 32];
            CSR_LAST_GAP_FIRST_LO: read_value = status[STATUS_LAST_GAP_FIRST_LO*32 +: 32];
            CSR_LAST_GAP_FIRST_HI: read_value = status[STATUS_LAST_GAP_FIRST_HI*32 +: 32];
            CSR_LAST_GAP_COUNT:    read_value = status[STATUS_LAST_GAP_COUNT*32 +: 32];
            default:               read_value = 32'd0;
        endcase
    end
end

integer k;
always @(posedge clk) begin
    for (k = 0; k < COUNTER_COUNT; k = k + 1)
        counter[k] <= counter[k] + stat_inc[k*32 +: 32];

    if (s_axil_bvalid && s_axil_bready)
        s_axil_bvalid <= 1'b0;
    if (write_fire) begin
        s_axil_bvalid <= 1'b1;
        case (write_addr)
            CSR_CONTROL: cfg_enable <= merge_bytes({31'd0, cfg_enable}, s_axil_wdata, s_axil_wstrb) & 32'd1;
            CSR_FILTER_IP: cfg_dest_ip <= merge_bytes(cfg_dest_ip, s_axil_wdata, s_axil_wstrb);
            CSR_FILTER_PORT: cfg_dest_port <= merge_bytes({16'd0, cfg_dest_port}, s_axil_wdata, s_axil_wstrb);
            default: ;
        endcase
    end

    if (s_axil_rvalid && s_axil_rready)
        s_axil_rvalid <= 1'b0;
    if (read_fire) begin
        s_axil_rvalid <= 1'b1;
        s_axil_rdata <= read_value;
    end

    if (rst) begin
        for (k = 0; k < COUNTER_COUNT; k = k + 1)
            counter[k] <= 32'd0;
        s_axil_bvalid <= 1'b0;
        s_axil_rvalid <= 1'b0;
        cfg_enable <= CSR_CONTROL_RESET[0];
        cfg_dest_ip <= CSR_FILTER_IP_RESET;
        cfg_dest_port <= CSR_FILTER_PORT_RESET[15:0];
    end
end

endmodule
