// ITCH 5.0 feed handler: Ethernet frames in, book-event records out.
//
//   s_axis ─► udp_rx_filter ─► moldudp64_rx ─► itch_extract ─► itch_decode ─► m_axis
//                                    |
//                                    └─► gap_* (missing range to re-request)
//   s_axil ─► feed_csr: filter configuration, status, counters of every stage
//
// Backpressure from m_axis stalls each stage in turn up to s_axis_tready;
// nothing is dropped for lack of room. Counter and register map: host/schema/csr.py.

module feed_handler #(
    parameter DATA_WIDTH = 64,
    parameter KEEP_WIDTH = DATA_WIDTH/8,
    parameter RECORD_WIDTH = 336  // must equal BOOK_EVENT_WIDTH (checked in itch_decode)
) (
    input  wire                    clk,
    input  wire                    rst,

    input  wire [DATA_WIDTH-1:0]   s_axis_tdata,
    input  wire [KEEP_WIDTH-1:0]   s_axis_tkeep,
    input  wire                    s_axis_tvalid,
    output wire                    s_axis_tready,
    input  wire                    s_axis_tlast,
    input  wire                    s_axis_tuser,

    output wire [RECORD_WIDTH-1:0] m_axis_tdata,
    output wire                    m_axis_tvalid,
    input  wire                    m_axis_tready,
    output wire                    m_axis_tlast,

    output wire                    gap_valid,
    output wire [63:0]             gap_first_seq,
    output wire [63:0]             gap_count,

    input  wire [11:0]             s_axil_awaddr,
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
    input  wire [11:0]             s_axil_araddr,
    input  wire [2:0]              s_axil_arprot,
    input  wire                    s_axil_arvalid,
    output wire                    s_axil_arready,
    output wire [31:0]             s_axil_rdata,
    output wire [1:0]              s_axil_rresp,
    output wire                    s_axil_rvalid,
    input  wire                    s_axil_rready
);

`include "feed_csr_map.vh"

wire        cfg_enable;
wire [31:0] cfg_dest_ip;
wire [15:0] cfg_dest_port;

// ---- stages ----

wire [DATA_WIDTH-1:0] udp_tdata;
wire [KEEP_WIDTH-1:0] udp_tkeep;
wire udp_tvalid, udp_tready, udp_tlast, udp_tuser;

wire stat_frame_in, stat_frame_passed, stat_drop_not_ipv4, stat_drop_fragment,
     stat_drop_checksum, stat_drop_not_udp, stat_drop_length, stat_drop_filtered,
     stat_drop_runt, stat_drop_frame_error, stat_drop_truncated;

udp_rx_filter #(.DATA_WIDTH(DATA_WIDTH), .KEEP_WIDTH(KEEP_WIDTH)) udp_rx_filter_inst (
    .clk(clk), .rst(rst),
    .s_axis_tdata(s_axis_tdata), .s_axis_tkeep(s_axis_tkeep), .s_axis_tvalid(s_axis_tvalid),
    .s_axis_tready(s_axis_tready), .s_axis_tlast(s_axis_tlast), .s_axis_tuser(s_axis_tuser),
    .m_axis_tdata(udp_tdata), .m_axis_tkeep(udp_tkeep), .m_axis_tvalid(udp_tvalid),
    .m_axis_tready(udp_tready), .m_axis_tlast(udp_tlast), .m_axis_tuser(udp_tuser),
    .cfg_enable(cfg_enable), .cfg_dest_ip(cfg_dest_ip), .cfg_dest_port(cfg_dest_port),
    .stat_frame_in(stat_frame_in), .stat_frame_passed(stat_frame_passed),
    .stat_drop_not_ipv4(stat_drop_not_ipv4), .stat_drop_fragment(stat_drop_fragment),
    .stat_drop_checksum(stat_drop_checksum), .stat_drop_not_udp(stat_drop_not_udp),
    .stat_drop_length(stat_drop_length), .stat_drop_filtered(stat_drop_filtered),
    .stat_drop_runt(stat_drop_runt), .stat_drop_frame_error(stat_drop_frame_error),
    .stat_drop_truncated(stat_drop_truncated)
);

wire [DATA_WIDTH-1:0] mold_tdata;
wire [KEEP_WIDTH-1:0] mold_tkeep;
wire mold_tvalid, mold_tready, mold_tlast, mold_tuser;
wire [63:0] mold_seq;
wire [15:0] mold_skip;
wire mold_drop;
wire [63:0] expected_seq;

wire stat_packet, stat_packet_short, stat_heartbeat, stat_end_of_session, stat_session,
     stat_dup_packet;
wire [15:0] stat_dup_messages;

moldudp64_rx #(.DATA_WIDTH(DATA_WIDTH), .KEEP_WIDTH(KEEP_WIDTH)) moldudp64_rx_inst (
    .clk(clk), .rst(rst),
    .s_axis_tdata(udp_tdata), .s_axis_tkeep(udp_tkeep), .s_axis_tvalid(udp_tvalid),
    .s_axis_tready(udp_tready), .s_axis_tlast(udp_tlast), .s_axis_tuser(udp_tuser),
    .m_axis_tdata(mold_tdata), .m_axis_tkeep(mold_tkeep), .m_axis_tvalid(mold_tvalid),
    .m_axis_tready(mold_tready), .m_axis_tlast(mold_tlast), .m_axis_tuser(mold_tuser),
    .m_mold_seq(mold_seq), .m_mold_skip(mold_skip), .m_mold_drop(mold_drop),
    .gap_valid(gap_valid), .gap_first_seq(gap_first_seq), .gap_count(gap_count),
    .status_expected_seq(expected_seq),
    .stat_packet(stat_packet), .stat_packet_short(stat_packet_short),
    .stat_heartbeat(stat_heartbeat), .stat_end_of_session(stat_end_of_session),
    .stat_session(stat_session), .stat_dup_packet(stat_dup_packet),
    .stat_dup_messages(stat_dup_messages)
);

wire [50*8-1:0] msg_data;
wire [63:0] msg_seq;
wire msg_valid, msg_ready, msg_last;
wire stat_length_error, stat_truncated;

itch_extract #(.DATA_WIDTH(DATA_WIDTH), .KEEP_WIDTH(KEEP_WIDTH)) itch_extract_inst (
    .clk(clk), .rst(rst),
    .s_axis_tdata(mold_tdata), .s_axis_tkeep(mold_tkeep), .s_axis_tvalid(mold_tvalid),
    .s_axis_tready(mold_tready), .s_axis_tlast(mold_tlast), .s_axis_tuser(mold_tuser),
    .s_mold_seq(mold_seq), .s_mold_skip(mold_skip), .s_mold_drop(mold_drop),
    .m_msg_tdata(msg_data), .m_msg_tuser(msg_seq), .m_msg_tvalid(msg_valid), .m_msg_tready(msg_ready),
    .m_msg_tlast(msg_last),
    .stat_length_error(stat_length_error), .stat_truncated(stat_truncated)
);

wire stat_msg_valid;
wire [7:0] stat_msg_type;

itch_decode #(.RECORD_WIDTH(RECORD_WIDTH)) itch_decode_inst (
    .clk(clk), .rst(rst),
    .s_msg_tdata(msg_data), .s_msg_tuser(msg_seq), .s_msg_tvalid(msg_valid), .s_msg_tready(msg_ready),
    .s_msg_tlast(msg_last),
    .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready),
    .m_axis_tlast(m_axis_tlast),
    .stat_msg_valid(stat_msg_valid), .stat_msg_type(stat_msg_type)
);

// ---- counters and status ----

reg [63:0] last_gap_first;
reg [31:0] last_gap_count;
always @(posedge clk) begin
    if (gap_valid) begin
        last_gap_first <= gap_first_seq;
        last_gap_count <= gap_count[63:32] != 0 ? 32'hFFFFFFFF : gap_count[31:0];
    end
    if (rst) begin
        last_gap_first <= 64'd0;
        last_gap_count <= 32'd0;
    end
end

wire [CSR_STATUS_COUNT*32-1:0] status;
assign status[STATUS_EXPECTED_SEQ_LO*32 +: 32] = expected_seq[31:0];
assign status[STATUS_EXPECTED_SEQ_HI*32 +: 32] = expected_seq[63:32];
assign status[STATUS_LAST_GAP_FIRST_LO*32 +: 32] = last_gap_first[31:0];
assign status[STATUS_LAST_GAP_FIRST_HI*32 +: 32] = last_gap_first[63:32];
assign status[STATUS_LAST_GAP_COUNT*32 +: 32] = last_gap_count;

wire [31:0] gap_messages = !gap_valid ? 32'd0
                         : gap_count[63:32] != 0 ? 32'hFFFFFFFF : gap_count[31:0];

reg [CSR_COUNTER_COUNT*32-1:0] stat_inc;
integer c;
always @* begin
    stat_inc = 0;
    stat_inc[CNT_FRAMES_IN*32 +: 32] = {31'd0, stat_frame_in};
    stat_inc[CNT_FRAMES_PASSED*32 +: 32] = {31'd0, stat_frame_passed};
    stat_inc[CNT_DROP_NOT_IPV4*32 +: 32] = {31'd0, stat_drop_not_ipv4};
    stat_inc[CNT_DROP_FRAGMENT*32 +: 32] = {31'd0, stat_drop_fragment};
    stat_inc[CNT_DROP_CHECKSUM*32 +: 32] = {31'd0, stat_drop_checksum};
    stat_inc[CNT_DROP_NOT_UDP*32 +: 32] = {31'd0, stat_drop_not_udp};
    stat_inc[CNT_DROP_LENGTH*32 +: 32] = {31'd0, stat_drop_length};
    stat_inc[CNT_DROP_FILTERED*32 +: 32] = {31'd0, stat_drop_filtered};
    stat_inc[CNT_DROP_RUNT*32 +: 32] = {31'd0, stat_drop_runt};
    stat_inc[CNT_DROP_FRAME_ERROR*32 +: 32] = {31'd0, stat_drop_frame_error};
    stat_inc[CNT_DROP_TRUNCATED*32 +: 32] = {31'd0, stat_drop_truncated};
    stat_inc[CNT_PACKETS*32 +: 32] = {31'd0, stat_packet};
    stat_inc[CNT_PACKETS_SHORT*32 +: 32] = {31'd0, stat_packet_short};
    stat_inc[CNT_HEARTBEATS*32 +: 32] = {31'd0, stat_heartbeat};
    stat_inc[CNT_END_OF_SESSION*32 +: 32] = {31'd0, stat_end_of_session};
    stat_inc[CNT_SESSIONS*32 +: 32] = {31'd0, stat_session};
    stat_inc[CNT_GAPS*32 +: 32] = {31'd0, gap_valid};
    stat_inc[CNT_GAP_MESSAGES*32 +: 32] = gap_messages;
    stat_inc[CNT_DUP_PACKETS*32 +: 32] = {31'd0, stat_dup_packet};
    stat_inc[CNT_DUP_MESSAGES*32 +: 32] = {16'd0, stat_dup_messages};
    stat_inc[CNT_LENGTH_ERRORS*32 +: 32] = {31'd0, stat_length_error};
    stat_inc[CNT_TRUNCATED_MESSAGES*32 +: 32] = {31'd0, stat_truncated};
    stat_inc[CNT_STALL_IN*32 +: 32] = {31'd0, (s_axis_tvalid && !s_axis_tready)};
    stat_inc[CNT_STALL_OUT*32 +: 32] = {31'd0, (m_axis_tvalid && !m_axis_tready)};
    for (c = 0; c < CSR_COUNTER_COUNT; c = c + 1)
        if (counter_message_type(c) != 8'h00)
            stat_inc[c*32 +: 32] = {31'd0, (stat_msg_valid && stat_msg_type == counter_message_type(c))};
end

feed_csr #(
    .ADDR_WIDTH(CSR_ADDR_WIDTH),
    .COUNTER_COUNT(CSR_COUNTER_COUNT),
    .STATUS_COUNT(CSR_STATUS_COUNT)
) feed_csr_inst (
    .clk(clk), .rst(rst),
    .s_axil_awaddr(s_axil_awaddr), .s_axil_awprot(s_axil_awprot), .s_axil_awvalid(s_axil_awvalid),
    .s_axil_awready(s_axil_awready), .s_axil_wdata(s_axil_wdata), .s_axil_wstrb(s_axil_wstrb),
    .s_axil_wvalid(s_axil_wvalid), .s_axil_wready(s_axil_wready), .s_axil_bresp(s_axil_bresp),
    .s_axil_bvalid(s_axil_bvalid), .s_axil_bready(s_axil_bready),
    .s_axil_araddr(s_axil_araddr), .s_axil_arprot(s_axil_arprot), .s_axil_arvalid(s_axil_arvalid),
    .s_axil_arready(s_axil_arready), .s_axil_rdata(s_axil_rdata), .s_axil_rresp(s_axil_rresp),
    .s_axil_rvalid(s_axil_rvalid), .s_axil_rready(s_axil_rready),
    .cfg_enable(cfg_enable), .cfg_dest_ip(cfg_dest_ip), .cfg_dest_port(cfg_dest_port),
    .status(status), .stat_inc(stat_inc)
);

endmodule
