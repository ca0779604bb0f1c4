"""Record layouts and tables every layer shares: the ITCH message table, the book-event and
BBO-update records, the Arrow schemas of the output tables, the CSR maps, and the generators
of the Verilog headers in ``hw/rtl/`` that are derived from them.

Modules: `itch` (message types, lengths, field offsets), `bitfields` (one packing scheme for
every bit-level record), `records` (book event), `bbo_records` (BBO update), `tables` (Arrow
schemas), `csr` and `book_csr` (AXI4-Lite maps), `units` (price scale), `generated` (the
header writer).
"""
