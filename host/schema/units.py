"""Units and scales of ITCH fields, named once: every stage keeps prices as these integers.

Only the signal kernels and the presentation layer turn prices into dollars, by dividing
by `PRICE_SCALE`.
"""

PRICE_SCALE = 10_000  # ITCH Price(4) units per dollar
MWCB_PRICE_SCALE = 100_000_000  # ITCH Price(8) units per dollar (MWCB decline levels only)
BASIS_POINTS = 10_000  # per unit of a relative quantity (spread over mid)
NS_PER_SECOND = 1_000_000_000  # ITCH timestamps are ns after midnight
