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
//
// s_msg_tready is a register (a skid register takes the record the output
// register cannot), so the stall of the stage before never waits on
// m_axis_tready; the output register loads whenever it is free, and
// m_axis_tvalid says whether what it took is a record.

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

// The fields of a record matter only for the book event types, which differ
// in their type byte's low bits (checked): the field selects read those bits
// only, a LUT's worth, not a compare of the whole byte.
localparam TYPE_KEY_W = 5;
function [TYPE_KEY_W-1:0] type_key;
    input [7:0] message_type;
    begin
        type_key = message_type[TYPE_KEY_W-1:0];
    end
endfunction
// Type keys that more than one book event type has (must be none).
function integer keys_shared;
    input integer unused;
    integer key, high, types;
    begin
        keys_shared = 0;
        for (key = 0; key < (1 << TYPE_KEY_W); key = key + 1) begin
            types = 0;
            for (high = 0; high < (1 << (8 - TYPE_KEY_W)); high = high + 1)
                if (is_book_event_type({high[7-TYPE_KEY_W:0], key[TYPE_KEY_W-1:0]}))
                    types = types + 1;
            if (types > 1)
                keys_shared = keys_shared + 1;
        end
    end
endfunction
localparam KEYS_SHARED = keys_shared(0);

initial begin
    if (RECORD_WIDTH != BOOK_EVENT_WIDTH) begin
        $error("itch_decode: RECORD_WIDTH must be BOOK_EVENT_WIDTH from book_event.vh");
        $finish;
    end
    if (ITCH_MAX_MESSAGE_LENGTH != 50) begin
        $error("itch_decode: s_msg_tdata is sized for 50-byte messages");
        $finish;
    end
    if (KEYS_SHARED != 0) begin
        $error("itch_decode: two book event types share their low %0d bits", TYPE_KEY_W);
        $finish;
    end
end

reg                    skid_valid;
reg [RECORD_WIDTH-1:0] skid_data;

assign m_axis_tlast = 1'b1;
assign s_msg_tready = !skid_valid;
wire s_fire = s_msg_tvalid && !skid_valid;
wire out_free = !m_axis_tvalid || m_axis_tready;

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
    case (type_key(msg_type))
        type_key("A"): begin
            order_ref = field(s_msg_tdata, ITCH_A_ORDER_REF_OFFSET, 8);
            side = field8(s_msg_tdata, ITCH_A_SIDE_OFFSET);
            shares = field32(s_msg_tdata, ITCH_A_SHARES_OFFSET);
            price = field32(s_msg_tdata, ITCH_A_PRICE_OFFSET);
        end
        type_key("F"): begin
            order_ref = field(s_msg_tdata, ITCH_F_ORDER_REF_OFFSET, 8);
            side = field8(s_msg_tdata, ITCH_F_SIDE_OFFSET);
            shares = field32(s_msg_tdata, ITCH_F_SHARES_OFFSET);
            price = field32(s_msg_tdata, ITCH_F_PRICE_OFFSET);
        end
        type_key("E"): begin
            order_ref = field(s_msg_tdata, ITCH_E_ORDER_REF_OFFSET, 8);
            shares = field32(s_msg_tdata, ITCH_E_EXECUTED_SHARES_OFFSET);
        end
        type_key("C"): begin
            order_ref = field(s_msg_tdata, ITCH_C_ORDER_REF_OFFSET, 8);
            shares = field32(s_msg_tdata, ITCH_C_EXECUTED_SHARES_OFFSET);
            price = field32(s_msg_tdata, ITCH_C_EXECUTION_PRICE_OFFSET);
        end
        type_key("X"): begin
            order_ref = field(s_msg_tdata, ITCH_X_ORDER_REF_OFFSET, 8);
            shares = field32(s_msg_tdata, ITCH_X_CANCELLED_SHARES_OFFSET);
        end
        type_key("D"): begin
            order_ref = field(s_msg_tdata, ITCH_D_ORDER_REF_OFFSET, 8);
        end
        type_key("U"): begin
            order_ref = field(s_msg_tdata, ITCH_U_ORIGINAL_ORDER_REF_OFFSET, 8);
            new_order_ref = field(s_msg_tdata, ITCH_U_NEW_ORDER_REF_OFFSET, 8);
            shares = field32(s_msg_tdata, ITCH_U_SHARES_OFFSET);
            price = field32(s_msg_tdata, ITCH_U_PRICE_OFFSET);
        end
        type_key("R"): begin
            new_order_ref = field(s_msg_tdata, ITCH_R_STOCK_OFFSET, 8);
        end
        type_key("S"): begin
            side = field8(s_msg_tdata, ITCH_S_EVENT_CODE_OFFSET);
        end
        default: ;
    endcase
end

wire [63:0] stock_locate = field(s_msg_tdata, ITCH_STOCK_LOCATE_OFFSET, 2);
wire [63:0] timestamp    = field(s_msg_tdata, ITCH_TIMESTAMP_OFFSET, 6);

reg [RECORD_WIDTH-1:0] record;
always @* begin
    record = 0;
    record[REC_KIND_LSB +: REC_KIND_WIDTH] = msg_type;
    record[REC_STOCK_LOCATE_LSB +: REC_STOCK_LOCATE_WIDTH] = stock_locate[REC_STOCK_LOCATE_WIDTH-1:0];
    record[REC_TIMESTAMP_LSB +: REC_TIMESTAMP_WIDTH] = timestamp[REC_TIMESTAMP_WIDTH-1:0];
    record[REC_SEQ_LSB +: REC_SEQ_WIDTH] = s_msg_tuser;
    record[REC_ORDER_REF_LSB +: REC_ORDER_REF_WIDTH] = order_ref;
    record[REC_NEW_ORDER_REF_LSB +: REC_NEW_ORDER_REF_WIDTH] = new_order_ref;
    record[REC_SIDE_LSB +: REC_SIDE_WIDTH] = side;
    record[REC_SHARES_LSB +: REC_SHARES_WIDTH] = shares;
    record[REC_PRICE_LSB +: REC_PRICE_WIDTH] = price;
end
wire record_valid = s_fire && is_book_event_type(msg_type);

always @(posedge clk) begin
    stat_msg_valid <= s_fire;
    stat_msg_type <= msg_type;

    if (!skid_valid)
        skid_data <= record;
    if (out_free) begin
        m_axis_tvalid <= skid_valid || record_valid;
        m_axis_tdata <= skid_valid ? skid_data : record;
        skid_valid <= 1'b0;
    end else if (record_valid)
        skid_valid <= 1'b1;

    if (rst) begin
        m_axis_tvalid <= 1'b0;
        skid_valid <= 1'b0;
        stat_msg_valid <= 1'b0;
    end
end

endmodule
