"""Units and scales of ITCH fields, named once: every stage keeps prices as these integers.

Only the signal kernels and the presentation layer turn prices into dollars, by dividing
by `PRICE_SCALE`; timestamps are read and written as a time of day here.
"""
from __future__ import annotations

import re

from tickaccel.errors import TickaccelError

PRICE_SCALE = 10_000  # ITCH Price(4) units per dollar
MWCB_PRICE_SCALE = 100_000_000  # ITCH Price(8) units per dollar (MWCB decline levels only)
BASIS_POINTS = 10_000  # per unit of a relative quantity (spread over mid)
NS_PER_SECOND = 1_000_000_000  # ITCH timestamps are ns after midnight

_TIME_OF_DAY = re.compile(r"(\d{1,2}):([0-5]\d)(?::([0-5]\d)(?:\.(\d{1,9}))?)?")


def time_of_day_ns(value: str | int) -> int:
    """Nanoseconds after midnight (the ITCH timestamp) of ``"HH:MM[:SS[.fraction]]"`` or a number of ns.

    Raises `TickaccelError` for text that is not such a time.
    """
    if not isinstance(value, str):
        ns = int(value)
    else:
        found = _TIME_OF_DAY.fullmatch(value.strip())
        if found is None:
            raise TickaccelError(f"not a time of day: {value!r}; write HH:MM[:SS[.fraction]], "
                                 "e.g. 10:30:00 or 09:30:00.000125")
        hours, minutes, seconds, fraction = found.groups()
        ns = ((int(hours) * 60 + int(minutes)) * 60 + int(seconds or 0)) * NS_PER_SECOND \
            + int((fraction or "").ljust(9, "0"))
    if not 0 <= ns < 24 * 3600 * NS_PER_SECOND:
        raise TickaccelError(f"a time of day is within 00:00 and 24:00, not {value!r}")
    return ns


def format_time_of_day(ns: int) -> str:
    """``HH:MM:SS.nnnnnnnnn`` of an ITCH timestamp."""
    seconds, fraction = divmod(int(ns), NS_PER_SECOND)
    minutes, second = divmod(seconds, 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}:{second:02d}.{fraction:09d}"
