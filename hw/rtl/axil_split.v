// AXI4-Lite 1-to-2 address split: addresses with bit SELECT_BIT clear go to
// port a, set to port b, with the upper bits removed (each port sees its own
// ADDR_A_WIDTH / ADDR_B_WIDTH offset).
//
// One write and one read are in flight at a time: a request is passed on only
// when no response of its direction is owed, and the response comes back from
// the port that took the request. Address and data of a write are passed on
// together, so both ports must take them together (feed_csr and book_csr do).

module axil_split #(
    parameter ADDR_WIDTH = 21,
    parameter SELECT_BIT = 20,
    parameter ADDR_A_WIDTH = 12,
    parameter ADDR_B_WIDTH = 20
) (
    input  wire                    clk,
    input  wire                    rst,

    input  wire [ADDR_WIDTH-1:0]   s_axil_awaddr,
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
    input  wire [ADDR_WIDTH-1:0]   s_axil_araddr,
    input  wire [2:0]              s_axil_arprot,
    input  wire                    s_axil_arvalid,
    output wire                    s_axil_arready,
    output wire [31:0]             s_axil_rdata,
    output wire [1:0]              s_axil_rresp,
    output wire                    s_axil_rvalid,
    input  wire                    s_axil_rready,

    output wire [ADDR_A_WIDTH-1:0] m_axil_a_awaddr,
    output wire [2:0]              m_axil_a_awprot,
    output wire                    m_axil_a_awvalid,
    input  wire                    m_axil_a_awready,
    output wire [31:0]             m_axil_a_wdata,
    output wire [3:0]              m_axil_a_wstrb,
    output wire                    m_axil_a_wvalid,
    input  wire                    m_axil_a_wready,
    input  wire [1:0]              m_axil_a_bresp,
    input  wire                    m_axil_a_bvalid,
    output wire                    m_axil_a_bready,
    output wire [ADDR_A_WIDTH-1:0] m_axil_a_araddr,
    output wire [2:0]              m_axil_a_arprot,
    output wire                    m_axil_a_arvalid,
    input  wire                    m_axil_a_arready,
    input  wire [31:0]             m_axil_a_rdata,
    input  wire [1:0]              m_axil_a_rresp,
    input  wire                    m_axil_a_rvalid,
    output wire                    m_axil_a_rready,

    output wire [ADDR_B_WIDTH-1:0] m_axil_b_awaddr,
    output wire [2:0]              m_axil_b_awprot,
    output wire                    m_axil_b_awvalid,
    input  wire                    m_axil_b_awready,
    output wire [31:0]             m_axil_b_wdata,
    output wire [3:0]              m_axil_b_wstrb,
    output wire                    m_axil_b_wvalid,
    input  wire                    m_axil_b_wready,
    input  wire [1:0]              m_axil_b_bresp,
    input  wire                    m_axil_b_bvalid,
    output wire                    m_axil_b_bready,
    output wire [ADDR_B_WIDTH-1:0] m_axil_b_araddr,
    output wire [2:0]              m_axil_b_arprot,
    output wire                    m_axil_b_arvalid,
    input  wire                    m_axil_b_arready,
    input  wire [31:0]             m_axil_b_rdata,
    input  wire [1:0]              m_axil_b_rresp,
    input  wire                    m_axil_b_rvalid,
    output wire                    m_axil_b_rready
);

initial begin
    if (SELECT_BIT >= ADDR_WIDTH || ADDR_A_WIDTH > SELECT_BIT || ADDR_B_WIDTH > SELECT_BIT) begin
        $error("axil_split: port widths must fit below SELECT_BIT < ADDR_WIDTH");
        $finish;
    end
end

reg write_owed, write_to_b, read_owed, read_to_b;

wire write_b = s_axil_awaddr[SELECT_BIT];
wire write_go = s_axil_awvalid && s_axil_wvalid && !write_owed;
wire read_b = s_axil_araddr[SELECT_BIT];
wire read_go = s_axil_arvalid && !read_owed;

assign m_axil_a_awaddr = s_axil_awaddr[ADDR_A_WIDTH-1:0];
assign m_axil_b_awaddr = s_axil_awaddr[ADDR_B_WIDTH-1:0];
assign m_axil_a_awprot = s_axil_awprot;
assign m_axil_b_awprot = s_axil_awprot;
assign m_axil_a_wdata = s_axil_wdata;
assign m_axil_b_wdata = s_axil_wdata;
assign m_axil_a_wstrb = s_axil_wstrb;
assign m_axil_b_wstrb = s_axil_wstrb;
assign m_axil_a_awvalid = write_go && !write_b;
assign m_axil_a_wvalid = write_go && !write_b;
assign m_axil_b_awvalid = write_go && write_b;
assign m_axil_b_wvalid = write_go && write_b;
wire write_taken = write_b ? m_axil_b_awvalid && m_axil_b_awready : m_axil_a_awvalid && m_axil_a_awready;
assign s_axil_awready = write_taken;
assign s_axil_wready = write_taken;

assign s_axil_bvalid = write_owed && (write_to_b ? m_axil_b_bvalid : m_axil_a_bvalid);
assign s_axil_bresp = write_to_b ? m_axil_b_bresp : m_axil_a_bresp;
assign m_axil_a_bready = write_owed && !write_to_b && s_axil_bready;
assign m_axil_b_bready = write_owed && write_to_b && s_axil_bready;

assign m_axil_a_araddr = s_axil_araddr[ADDR_A_WIDTH-1:0];
assign m_axil_b_araddr = s_axil_araddr[ADDR_B_WIDTH-1:0];
assign m_axil_a_arprot = s_axil_arprot;
assign m_axil_b_arprot = s_axil_arprot;
assign m_axil_a_arvalid = read_go && !read_b;
assign m_axil_b_arvalid = read_go && read_b;
wire read_taken = read_b ? m_axil_b_arvalid && m_axil_b_arready : m_axil_a_arvalid && m_axil_a_arready;
assign s_axil_arready = read_taken;

assign s_axil_rvalid = read_owed && (read_to_b ? m_axil_b_rvalid : m_axil_a_rvalid);
assign s_axil_rdata = read_to_b ? m_axil_b_rdata : m_axil_a_rdata;
assign s_axil_rresp = read_to_b ? m_axil_b_rresp : m_axil_a_rresp;
assign m_axil_a_rready = read_owed && !read_to_b && s_axil_rready;
assign m_axil_b_rready = read_owed && read_to_b && s_axil_rready;

always @(posedge clk) begin
    if (write_taken) begin
        write_owed <= 1'b1;
        write_to_b <= write_b;
    end else if (s_axil_bvalid && s_axil_bready) begin
        write_owed <= 1'b0;
    end
    if (read_taken) begin
        read_owed <= 1'b1;
        read_to_b <= read_b;
    end else if (s_axil_rvalid && s_axil_rready) begin
        read_owed <= 1'b0;
    end
    if (rst) begin
        write_owed <= 1'b0;
        read_owed <= 1'b0;
    end
end

endmodule
