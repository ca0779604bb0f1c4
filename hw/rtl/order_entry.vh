// An order store entry, the order a live reference stands for: {level, shares, price, side,
// locate}, side 1 = sell, level its price level's reference ({pool block, slot}, price_levels).
// order_store keeps one per live order (its SLOT_WIDTH is the level's width); order_book writes
// them and reads the one found. Included after LOCATE_WIDTH is declared.
localparam ENTRY_SIDE_LSB   = LOCATE_WIDTH;
localparam ENTRY_PRICE_LSB  = LOCATE_WIDTH + 1;
localparam ENTRY_SHARES_LSB = ENTRY_PRICE_LSB + 32;
localparam ENTRY_LEVEL_LSB  = ENTRY_SHARES_LSB + 32;
