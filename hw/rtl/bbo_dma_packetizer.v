// BBO DMA packetizer: BBO update records (one wide beat each, tlast on every
// record) in, DMA-sized packets of DATA_WIDTH beats out, for an AXI DMA S2MM.
//
// The S2MM channel completes a transfer only on tlast, and each completion
// costs the host a register round trip, so records are grouped: each record
// leaves as RECORD_BEATS beats (the record's bytes first, byte k at
// tdata[8k+7:8k] of the record's beat stream, then zero padding to the slot
// end), and tlast closes a packet after RECORDS_PER_PACKET records, or when
// IDLE_CYCLES pass with no new record, so the tail of a feed reaches the host
// without a flush command. tkeep is all ones on every beat, as S2MM requires.
//
// To put tlast on a record already on its way out, the last beat of each
// record is held until the next record arrives (sent without tlast), the
// packet is full, or the idle timeout fires (sent with tlast). A receive
// buffer of RECORDS_PER_PACKET * RECORD_BEATS * KEEP_WIDTH bytes holds any packet.

module bbo_dma_packetizer #(
    parameter RECORD_WIDTH = 336,
    parameter DATA_WIDTH = 64,
    parameter KEEP_WIDTH = DATA_WIDTH/8,
    parameter RECORDS_PER_PACKET = 1024,
    parameter IDLE_CYCLES = 1024
) (
    input  wire                    clk,
    input  wire                    rst,

    input  wire [RECORD_WIDTH-1:0] s_axis_tdata,
    input  wire                    s_axis_tvalid,
    output wire                    s_axis_tready,

    output wire [DATA_WIDTH-1:0]   m_axis_tdata,
    output wire [KEEP_WIDTH-1:0]   m_axis_tkeep,
    output wire                    m_axis_tvalid,
    input  wire                    m_axis_tready,
    output wire                    m_axis_tlast
);

localparam RECORD_BEATS = (RECORD_WIDTH + DATA_WIDTH - 1) / DATA_WIDTH;
localparam SLOT_WIDTH = RECORD_BEATS * DATA_WIDTH;
localparam BEAT_BITS = RECORD_BEATS > 1 ? $clog2(RECORD_BEATS) : 1;
localparam integer LAST_BEAT = RECORD_BEATS - 1;
localparam COUNT_BITS = $clog2(RECORDS_PER_PACKET + 1);
localparam IDLE_BITS = $clog2(IDLE_CYCLES + 1);

initial begin
    if (RECORDS_PER_PACKET < 1 || IDLE_CYCLES < 1 || KEEP_WIDTH * 8 != DATA_WIDTH) begin
        $error("bbo_dma_packetizer: RECORDS_PER_PACKET and IDLE_CYCLES must be >= 1, DATA_WIDTH a multiple of 8");
        $finish;
    end
end

reg [SLOT_WIDTH-1:0] slot = 0;
reg loaded = 1'b0;                     // slot holds a record not fully sent
reg [BEAT_BITS-1:0] beat = 0;
reg [COUNT_BITS-1:0] in_packet = 0;    // records of the open packet, the one in slot included
reg [IDLE_BITS-1:0] idle = 0;
reg timed_out = 1'b0;                  // sticky until the held beat leaves with tlast

wire at_last_beat = beat == LAST_BEAT[BEAT_BITS-1:0];
wire packet_full = in_packet >= RECORDS_PER_PACKET;
wire close_packet = packet_full || timed_out;
wire held_may_go = close_packet || s_axis_tvalid;

assign m_axis_tdata = slot[beat * DATA_WIDTH +: DATA_WIDTH];
assign m_axis_tkeep = {KEEP_WIDTH{1'b1}};
assign m_axis_tvalid = loaded && (!at_last_beat || held_may_go);
assign m_axis_tlast = at_last_beat && close_packet;

wire beat_done = m_axis_tvalid && m_axis_tready;
wire record_done = beat_done && at_last_beat;
assign s_axis_tready = !loaded || record_done;
wire take = s_axis_tvalid && s_axis_tready;

always @(posedge clk) begin
    if (take) begin
        slot <= {{(SLOT_WIDTH - RECORD_WIDTH){1'b0}}, s_axis_tdata};
        beat <= 0;
        loaded <= 1'b1;
        in_packet <= (record_done && m_axis_tlast) || !loaded && in_packet == 0 ? 1 : in_packet + 1;
    end else if (record_done) begin
        loaded <= 1'b0;
    end else if (beat_done) begin
        beat <= beat + 1'b1;
    end
    if (record_done && m_axis_tlast) begin
        timed_out <= 1'b0;
        if (!take) begin
            in_packet <= 0;
        end
    end
    // Only a held beat with no record waiting counts, so tlast never changes under tvalid.
    // The cycle the held beat leaves does not count either: otherwise a timeout already
    // reached would set timed_out again as the tlast beat clears it, and the next record
    // would go out alone in a packet of its own.
    if (!loaded || !at_last_beat || s_axis_tvalid || record_done) begin
        idle <= 0;
    end else if (idle >= IDLE_CYCLES - 1) begin
        timed_out <= 1'b1;
    end else begin
        idle <= idle + 1'b1;
    end
    if (rst) begin
        loaded <= 1'b0;
        beat <= 0;
        in_packet <= 0;
        idle <= 0;
        timed_out <= 1'b0;
    end
end

endmodule
