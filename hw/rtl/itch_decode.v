// ITCH message → book-event record.
//
// One message per cycle in on s_msg_* (type byte at s_msg_tdata[7:0],
// sequence in s_msg_tuser, each beat a whole message: tlast unused), one
// record out on m_axis_* as a single-beat packet for the book types A F E C
// X D U and for R (symbol in the new_order_ref field) and S (event code in
// the side field). The record layout and the field offsets come from
// book_event.vh, generated from host/schema/records.py; fields a type does not use
// are 0. Every message, book type or not, raises stat_msg_valid with its type
// so the CSR block counts messages per type; other types are then dropped.

module itch_decode #(
    // must equal BOOK_EVENT_WIDTH of book_event.vh (checked); a port width
    // cannot come from a header included inside the module
    parameter RECORD_WIDTH = 336
) (
    input  wire                    clk,
    input  wire                    rst,

    input  wire [50*8-1:0]         s_msg_tdata,
    input  wire [63:0]             s_msg_tuser,
    input  wire                    s_msg_tvalid,
    output wire                    s_msg_tready,
    input  wire                    s_msg_tlast,

    output reg  [RECORD_WIDTH-1:0] m_axis_tdata,
    output reg                     m_axis_tvalid,
    input  wire                    m_axis_tready,
    output wire                    m_axis_tlast,

    output reg                     stat_msg_valid,
    output reg  [7:0]              stat_msg_type
);

`include "book_event.vh"

initial begin
    if (RECORD_WIDTH != BOOK_EVENT_WIDTH) begin
        $error("itch_decode: RECORD_WIDTH must be BOOK_EVENT_WIDTH from book_event.vh");
        $finish;
    end
    if (ITCH_MAX_MESSAGE_LENGTH != 50) begin
        $error("itch_decode: s_msg_tdata is sized for 50-byte messages");
        $finish;
    end
end

assign m_axis_tlast = 1'b1;
assign s_msg_tready = !m_axis_tvalid || m_axis_tready;
wire s_fire = s_msg_tvalid && s_msg_tready;

// Big-endian field of `count` bytes at byte `offset` of the message.
function [63:0] field;
    input [50*8-1:0] message;
    input integer offset;
    input integer count;
    integer k;
    begin
        field = 0;
        for (k = 0; k < count; k = k + 1)
            field = {field[55:0], message[(offset+k)*8 +: 8]};
    end
endfunction

// The same, sized: a one-byte field, a 4-byte one.
function [7:0] field8;
    input [50*8-1:0] message;
    input integer offset;
    begin
        field8 = message[offset*8 +: 8];
    end
endfunction

function [31:0] field32;
    input [50*8-1:0] message;
    input integer offset;
    reg [63:0] value;
    begin
        value = field(message, offset, 4);
        field32 = value[31:0];
    end
endfunction

wire [7:0] msg_type = s_msg_tdata[7:0];

reg [63:0] order_ref, new_order_ref;
reg [7:0]  side;
reg [31:0] shares, price;
always @* begin
    order_ref = 0;
    new_order_ref = 0;
    side = 0;
    shares = 0;
    price = 0;
    case (msg_type)
        "A": begin
            order_ref = field(s_msg_tdata, ITCH_A_ORDER_REF_OFFSET, 8);
            side = field8(s_msg_tdata, ITCH_A_SIDE_OFFSET);
            shares = field32(s_msg_tdata, ITCH_A_SHARES_OFFSET);
            price = field32(s_msg_tdata, ITCH_A_PRICE_OFFSET);
        end
        "F": begin
            order_ref = field(s_msg_tdata, ITCH_F_ORDER_REF_OFFSET, 8);
            side = field8(s_msg_tdata, ITCH_F_SIDE_OFFSET);
            shares = field32(s_msg_tdata, ITCH_F_SHARES_OFFSET);
            price = field32(s_msg_tdata, ITCH_F_PRICE_OFFSET);
        end
        "E": begin
            order_ref = field(s_msg_tdata, ITCH_E_ORDER_REF_OFFSET, 8);
            shares = field32(s_msg_tdata, ITCH_E_EXECUTED_SHARES_OFFSET);
        end
        "C": begin
            order_ref = field(s_msg_tdata, ITCH_C_ORDER_REF_OFFSET, 8);
            shares = field32(s_msg_tdata, ITCH_C_EXECUTED_SHARES_OFFSET);
            price = field32(s_msg_tdata, ITCH_C_EXECUTION_PRICE_OFFSET);
        end
        "X": begin
            order_ref = field(s_msg_tdata, ITCH_X_ORDER_REF_OFFSET, 8);
            shares = field32(s_msg_tdata, ITCH_X_CANCELLED_SHARES_OFFSET);
        end
        "D": begin
            order_ref = field(s_msg_tdata, ITCH_D_ORDER_REF_OFFSET, 8);
        end
        "U": begin
            order_ref = field(s_msg_tdata, ITCH_U_ORIGINAL_ORDER_REF_OFFSET, 8);
            new_order_ref = field(s_msg_tdata, ITCH_U_NEW_ORDER_REF_OFFSET, 8);
            shares = field32(s_msg_tdata, ITCH_U_SHARES_OFFSET);
            price = field32(s_msg_tdata, ITCH_U_PRICE_OFFSET);
        end
        "R": begin
            new_order_ref = field(s_msg_tdata, ITCH_R_STOCK_OFFSET, 8);
        end
        "S": begin
            side = field8(s_msg_tdata, ITCH_S_EVENT_CODE_OFFSET);
        end
        default: ;
    endcase
end

wire [63:0] stock_locate = field(s_msg_tdata, ITCH_STOCK_LOCATE_OFFSET, 2);
wire [63:0] timestamp    = field(s_msg_tdata, ITCH_TIMESTAMP_OFFSET, 6);

always @(posedge clk) begin
    stat_msg_valid <= s_fire;
    stat_msg_type <= msg_type;

    if (m_axis_tvalid && m_axis_tready)
        m_axis_tvalid <= 1'b0;

    if (s_fire && is_book_event_type(msg_type)) begin
        m_axis_tvalid <= 1'b1;
        m_axis_tdata <= 0;
        m_axis_tdata[REC_KIND_LSB +: REC_KIND_WIDTH] <= msg_type;
        m_axis_tdata[REC_STOCK_LOCATE_LSB +: REC_STOCK_LOCATE_WIDTH] <= stock_locate[REC_STOCK_LOCATE_WIDTH-1:0];
        m_axis_tdata[REC_TIMESTAMP_LSB +: REC_TIMESTAMP_WIDTH] <= timestamp[REC_TIMESTAMP_WIDTH-1:0];
        m_axis_tdata[REC_SEQ_LSB +: REC_SEQ_WIDTH] <= s_msg_tuser;
        m_axis_tdata[REC_ORDER_REF_LSB +: REC_ORDER_REF_WIDTH] <= order_ref;
        m_axis_tdata[REC_NEW_ORDER_REF_LSB +: REC_NEW_ORDER_REF_WIDTH] <= new_order_ref;
        m_axis_tdata[REC_SIDE_LSB +: REC_SIDE_WIDTH] <= side;
        m_axis_tdata[REC_SHARES_LSB +: REC_SHARES_WIDTH] <= shares;
        m_axis_tdata[REC_PRICE_LSB +: REC_PRICE_WIDTH] <= price;
    end

    if (rst) begin
        m_axis_tvalid <= 1'b0;
        stat_msg_valid <= 1'b0;
    end
end

endmodule
