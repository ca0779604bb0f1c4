// The order store's bucket hash (sim/book_model.py:bucket_of mirrors it): the 32-bit product
// of a reference's two halves XORed and a table's odd multiplier (Fibonacci hashing); a table
// of 2^n buckets takes the product's top n bits. order_book computes it as an event enters, a
// stage ahead of the order store's read, so the multiply is never in front of a RAM address.
localparam [31:0] ORDER_HASH0 = 32'h9E3779B1, ORDER_HASH1 = 32'h85EBCA77;

function [31:0] order_hash;
    input [63:0] order_ref;
    input [31:0] multiplier;
    begin
        order_hash = (order_ref[31:0] ^ order_ref[63:32]) * multiplier;
    end
endfunction
