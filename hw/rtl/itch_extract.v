// ITCH message extraction from MoldUDP64 message blocks.
//
// s_axis carries the message blocks of one packet (2-byte big-endian length,
// then the message); the kept lanes of each beat are one contiguous run.
// Bytes are appended to an accumulator that holds at most one packet; a
// complete block at its head leaves as one message per cycle on m_msg_*,
// driven straight from the accumulator register (no output register: the
// decoder registers the record, so a message leaves one cycle after the beat
// holding its last byte), a single-beat AXI-Stream packet (type byte at m_msg_tdata[7:0], byte k at
// [8k+7:8k], bytes past the message's length undefined) with its MoldUDP64
// sequence number in m_msg_tuser. Blocks straddle beats in any alignment; at 64 bits a
// block (14 bytes or more) never completes faster than one per cycle, so the
// accumulator keeps up with the line; at 128 bits small messages may stall
// the input.
//
// s_mold_seq is read with a packet's first beat, s_mold_skip and s_mold_drop
// two cycles after (moldudp64_rx decides two cycles after the header), and no
// block leaves or is judged (length, truncation) before: a block complete by
// then waits for the decision, a cycle or two for a packet's first message.
// The first s_mold_skip blocks of a packet are already seen: they are
// consumed without output. A packet with s_mold_drop (a duplicate) has all
// its blocks consumed that way and counts no error; the
// next packet waits for the decision. A length that is not the table length of the
// type (book_event.vh, generated from itch.MESSAGE_LENGTHS) is counted and
// the rest of the packet skipped; a packet ending inside a block is counted
// as truncated. A last beat with tuser set (frame fault seen by the filter)
// is not appended and the incomplete tail is discarded without counting.
// The next packet is accepted only once the accumulator is empty, so a bad
// packet never misaligns the next one.

module itch_extract #(
    parameter DATA_WIDTH = 64,
    parameter KEEP_WIDTH = DATA_WIDTH/8
) (
    input  wire                  clk,
    input  wire                  rst,

    input  wire [DATA_WIDTH-1:0] s_axis_tdata,
    input  wire [KEEP_WIDTH-1:0] s_axis_tkeep,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    input  wire                  s_axis_tlast,
    input  wire                  s_axis_tuser,
    input  wire [63:0]           s_mold_seq,
    input  wire [15:0]           s_mold_skip,
    input  wire                  s_mold_drop,

    output wire [50*8-1:0]       m_msg_tdata,
    output wire [63:0]           m_msg_tuser,
    output wire                  m_msg_tvalid,
    input  wire                  m_msg_tready,
    output wire                  m_msg_tlast,

    output reg                   stat_length_error,
    output reg                   stat_truncated
);

`include "book_event.vh"

initial begin
    if (DATA_WIDTH != 32 && DATA_WIDTH != 64 && DATA_WIDTH != 128) begin
        $error("itch_extract: DATA_WIDTH must be 32, 64 or 128");
        $finish;
    end
    if (KEEP_WIDTH*8 != DATA_WIDTH) begin
        $error("itch_extract: KEEP_WIDTH must be DATA_WIDTH/8");
        $finish;
    end
    if (ITCH_MAX_MESSAGE_LENGTH != 50) begin
        $error("itch_extract: m_msg_tdata is sized for 50-byte messages");
        $finish;
    end
end

localparam BLOCK_MAX = ITCH_MAX_MESSAGE_LENGTH + 2;
// A head block one byte short plus one beat must fit with a beat to spare,
// so the input never waits while the output flows.
localparam ACC_BYTES = BLOCK_MAX + 2*KEEP_WIDTH;
localparam FILL_WIDTH = $clog2(ACC_BYTES+1);
localparam COUNT_WIDTH = $clog2(KEEP_WIDTH+1);
localparam integer FILL_ROOM_BYTES = ACC_BYTES - KEEP_WIDTH;  // most bytes held when a beat is taken
localparam [FILL_WIDTH-1:0] FILL_ROOM = FILL_ROOM_BYTES[FILL_WIDTH-1:0];

reg [ACC_BYTES*8-1:0] acc;          // byte 0 = oldest; bytes at and above fill are 0
reg [FILL_WIDTH-1:0]  fill;
reg                   in_packet;    // a packet's first beat taken, last not yet
reg                   end_in_acc;   // the packet's last beat is in the accumulator
reg                   aborted;      // ... and it ended with a frame fault
reg                   skipping;     // length error: drop beats to the packet's end
reg [63:0]            seq;          // sequence of the block at the head
reg [15:0]            skip_left;
reg                   verdict_wait; // the packet's first beat was taken last cycle
reg                   verdict_due;  // ... two cycles ago: s_mold_skip and s_mold_drop are valid
wire                  deciding = verdict_wait || verdict_due;
reg                   dropping;     // the packet is a duplicate: every block skipped, nothing counted
wire                  dropped = verdict_due ? s_mold_drop : dropping;

// A block's size (table length + 2) as one lookup, with no adder behind the table.
function [7:0] table_block_bytes;
    input [7:0] message_type;
    integer t;
    begin
        table_block_bytes = 8'd0;
        for (t = 0; t < 256; t = t + 1)
            if (message_type == t[7:0] && itch_message_length(t[7:0]) != 8'd0)
                table_block_bytes = itch_message_length(t[7:0]) + 8'd2;
    end
endfunction

wire [15:0] block_length = {acc[7:0], acc[15:8]};
wire [7:0]  table_length = itch_message_length(acc[23:16]);
wire        length_known = fill >= {{(FILL_WIDTH-2){1'b0}}, 2'd3};
wire        length_bad   = length_known && (table_length == 0 || block_length != {8'd0, table_length});
wire [7:0]  table_bytes  = table_block_bytes(acc[23:16]);
wire [FILL_WIDTH-1:0] block_bytes = table_bytes[FILL_WIDTH-1:0];  // at most BLOCK_MAX
wire        complete     = length_known && !length_bad && fill >= block_bytes;
wire        consume      = complete && !deciding && (skip_left != 0 || m_msg_tready);
wire        partial_end  = end_in_acc && !length_bad && !complete && fill != 0 && !verdict_wait;

wire [ACC_BYTES*8-1:0] acc_kept  = consume ? acc >> {block_bytes, 3'b000} : acc;
wire [FILL_WIDTH-1:0]  fill_kept = consume ? fill - block_bytes : fill;

assign m_msg_tdata  = acc[16 +: 50*8];
assign m_msg_tuser  = seq;
assign m_msg_tvalid = complete && !deciding && skip_left == 0;
assign m_msg_tlast  = 1'b1;
assign s_axis_tready = !end_in_acc && fill <= FILL_ROOM && !(deciding && !in_packet);
wire s_fire = s_axis_tvalid && s_axis_tready;

reg [COUNT_WIDTH-1:0] keep_count;
reg [COUNT_WIDTH-1:0] first_lane;
reg [DATA_WIDTH-1:0]  kept_data;
integer i;
always @* begin
    keep_count = 0;
    first_lane = 0;
    for (i = KEEP_WIDTH-1; i >= 0; i = i - 1) begin
        keep_count = keep_count + {{(COUNT_WIDTH-1){1'b0}}, s_axis_tkeep[i]};
        if (s_axis_tkeep[i])
            first_lane = i[COUNT_WIDTH-1:0];
        kept_data[i*8 +: 8] = s_axis_tkeep[i] ? s_axis_tdata[i*8 +: 8] : 8'd0;
    end
end

// seq + 1 without a 64-bit carry chain: each 16-bit chunk is incremented on
// its own and taken when every lower chunk carried out.
reg [63:0] seq_next;
reg [16:0] chunk_sum;
reg        chunk_carry;
integer c;
always @* begin
    chunk_carry = 1'b1;
    for (c = 0; c < 4; c = c + 1) begin
        chunk_sum = {1'b0, seq[c*16 +: 16]} + 17'd1;
        seq_next[c*16 +: 16] = chunk_carry ? chunk_sum[15:0] : seq[c*16 +: 16];
        chunk_carry = chunk_carry && chunk_sum[16];
    end
end

wire append = s_fire && !skipping && !(s_axis_tlast && s_axis_tuser);
wire [ACC_BYTES*8-1:0] acc_in = {{(ACC_BYTES*8-DATA_WIDTH){1'b0}}, kept_data >> {first_lane, 3'b000}};
wire [FILL_WIDTH-1:0] fill_next = append ? fill_kept + {{(FILL_WIDTH-COUNT_WIDTH){1'b0}}, keep_count} : fill_kept;

always @(posedge clk) begin
    stat_length_error <= 1'b0;
    stat_truncated <= 1'b0;

    if (length_bad && !verdict_wait) begin
        stat_length_error <= !dropped;
        acc <= 0;
        fill <= 0;
        end_in_acc <= 1'b0;
        skipping <= !end_in_acc && !(s_fire && s_axis_tlast);
    end else if (partial_end) begin
        stat_truncated <= !aborted && !dropped;
        acc <= 0;
        fill <= 0;
        end_in_acc <= 1'b0;
    end else begin
        if (consume) begin
            if (skip_left != 0)
                skip_left <= skip_left - 1'b1;
            seq <= seq_next;
        end
        acc <= append ? acc_kept | (acc_in << {fill_kept, 3'b000}) : acc_kept;
        fill <= fill_next;
        if (end_in_acc && fill_next == 0)
            end_in_acc <= 1'b0;
        if (s_fire && s_axis_tlast) begin
            if (skipping)
                skipping <= 1'b0;
            else
                end_in_acc <= fill_next != 0;
            aborted <= s_axis_tuser;
        end
    end

    verdict_wait <= s_fire && !in_packet;
    verdict_due <= verdict_wait;
    if (verdict_due) begin
        skip_left <= s_mold_drop ? 16'hFFFF : s_mold_skip;
        dropping <= s_mold_drop;
    end
    if (s_fire) begin
        in_packet <= !s_axis_tlast;
        if (!in_packet)
            seq <= s_mold_seq;
    end

    if (rst) begin
        acc <= 0;
        fill <= 0;
        in_packet <= 1'b0;
        verdict_wait <= 1'b0;
        verdict_due <= 1'b0;
        dropping <= 1'b0;
        end_in_acc <= 1'b0;
        aborted <= 1'b0;
        skipping <= 1'b0;
        stat_length_error <= 1'b0;
        stat_truncated <= 1'b0;
    end
end

endmodule
