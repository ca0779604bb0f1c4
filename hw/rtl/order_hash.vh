// The order store's bucket hash (sim/book_model.py:bucket_of mirrors it): the 32-bit product
// of a reference's two halves XORed (order_hash_key) and a table's odd multiplier (Fibonacci
// hashing); a table of 2^n buckets takes the product's top n bits. The product is made in two
// steps with a register between them: order_hash_parts, the three 16x16 partial products of its
// low 32 bits (a multiplier block each), then order_hash_sum, their sum. order_book registers
// the parts as an event enters and their sum a cycle later, a stage ahead of the order store's
// read, so no adder and no RAM address waits on a multiplier block; the order store's moves
// hash a moving order the same way.
localparam [31:0] ORDER_HASH0 = 32'h9E3779B1, ORDER_HASH1 = 32'h85EBCA77;
localparam ORDER_HASH_PARTS_WIDTH = 64;  // {key_lo * m_hi, key_hi * m_lo (low 16 bits each), key_lo * m_lo}

function [31:0] order_hash_key;
    input [63:0] order_ref;
    begin
        order_hash_key = order_ref[31:0] ^ order_ref[63:32];
    end
endfunction

function [ORDER_HASH_PARTS_WIDTH-1:0] order_hash_parts;
    input [31:0] key;
    input [31:0] multiplier;
    reg [31:0] low;
    reg [15:0] cross_hi, cross_lo;  // the 32-bit product keeps their low halves only
    begin
        low = key[15:0] * multiplier[15:0];
        cross_hi = key[31:16] * multiplier[15:0];
        cross_lo = key[15:0] * multiplier[31:16];
        order_hash_parts = {cross_lo, cross_hi, low};
    end
endfunction

function [31:0] order_hash_sum;
    input [ORDER_HASH_PARTS_WIDTH-1:0] parts;
    begin
        order_hash_sum = parts[31:0] + {parts[47:32] + parts[63:48], 16'd0};
    end
endfunction
