// DMA frame splitter: one AXI DMA MM2S transfer holding many Ethernet frames in,
// one AXI-Stream packet per frame out (the s_axis framing feed_to_book expects).
//
// An MM2S transfer asserts tlast only at the end of its buffer, so the host
// packs frames length-delimited (tickaccel.fpga.layout):
//
//   header beat: bits 15:0 frame length in bytes, bit 16 error (becomes tuser), other bits 0
//   then ceil(length / KEEP_WIDTH) beats of frame bytes, byte k of a beat at tdata[8k+7:8k],
//   the unused tail of the last beat zero.
//
// A header of length 0 carries no frame and is skipped. The DMA's tlast always
// resynchronises: a buffer that ends inside a frame ends that frame there with
// tuser set (feed_to_book counts it as a frame error), and the next beat is a
// header again. A buffer whose last beat is a header of a non-empty frame ends
// that frame before its first byte: one beat with no bytes kept (tkeep 0),
// tlast and tuser, so it is counted as a frame error too, never lost unseen.
// Pass-through: no beat is stored, tready comes straight from m_axis.

module dma_frame_splitter #(
    parameter DATA_WIDTH = 64,
    parameter KEEP_WIDTH = DATA_WIDTH/8
) (
    input  wire                  clk,
    input  wire                  rst,

    input  wire [DATA_WIDTH-1:0] s_axis_tdata,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    input  wire                  s_axis_tlast,

    output wire [DATA_WIDTH-1:0] m_axis_tdata,
    output wire [KEEP_WIDTH-1:0] m_axis_tkeep,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output wire                  m_axis_tlast,
    output wire                  m_axis_tuser
);

initial begin
    if (DATA_WIDTH < 32 || KEEP_WIDTH * 8 != DATA_WIDTH) begin
        $error("dma_frame_splitter: DATA_WIDTH must be a multiple of 8 and at least 32");
        $finish;
    end
end

localparam COUNT_WIDTH = 17;
localparam integer BEAT_BYTES = KEEP_WIDTH;  // bytes a beat carries

reg in_frame = 1'b0;
reg [COUNT_WIDTH-1:0] remaining = 0;  // frame bytes not yet sent, this beat's included
reg frame_error = 1'b0;
reg cut_at_header = 1'b0;  // the empty, errored beat of a frame cut off after its header is due

wire header_take = !in_frame && !cut_at_header && s_axis_tvalid;
wire [15:0] header_length = s_axis_tdata[15:0];
wire body_last = remaining <= BEAT_BYTES[COUNT_WIDTH-1:0];

assign s_axis_tready = in_frame ? m_axis_tready : !cut_at_header;
assign m_axis_tdata = s_axis_tdata;
assign m_axis_tvalid = cut_at_header || (in_frame && s_axis_tvalid);
assign m_axis_tlast = cut_at_header || body_last || s_axis_tlast;
assign m_axis_tuser = cut_at_header || (m_axis_tlast && (frame_error || (s_axis_tlast && !body_last)));

genvar k;
generate
    for (k = 0; k < KEEP_WIDTH; k = k + 1) begin : keep_bits
        assign m_axis_tkeep[k] = !cut_at_header && remaining > k;
    end
endgenerate

always @(posedge clk) begin
    if (header_take) begin
        in_frame <= header_length != 0 && !s_axis_tlast;
        cut_at_header <= header_length != 0 && s_axis_tlast;
        remaining <= {1'b0, header_length};
        frame_error <= s_axis_tdata[16];
    end else if (cut_at_header && m_axis_tready) begin
        cut_at_header <= 1'b0;
    end else if (m_axis_tvalid && m_axis_tready) begin
        remaining <= remaining - BEAT_BYTES[COUNT_WIDTH-1:0];
        if (m_axis_tlast) begin
            in_frame <= 1'b0;
        end
    end
    if (rst) begin
        in_frame <= 1'b0;
        cut_at_header <= 1'b0;
        remaining <= 0;
        frame_error <= 1'b0;
    end
end

endmodule
