"""Decode the RTL order book's output stream into the BBO table `tickaccel replay` writes.

The stream is BBO update records (`tickaccel.bbo_records`), 42 bytes each, in
feed order. Symbol names come from the stream's own ``R`` records, so each row
gets the name its locate had at that point of the feed, as in the software
books. Rows flagged stale are not book values anyone should trust: they are
left out of the table and reported per symbol instead (`DecodedStream.stale`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from . import bbo_records
from .tables import bbo_table


@dataclass
class DecodedStream:
    bbo: pa.Table
    stale: dict[int, dict[str, int]] = field(default_factory=dict)  # locate -> rows, first_seq
    names: dict[int, str] = field(default_factory=dict)


def _name(packed: int) -> str:
    return int(packed).to_bytes(8, "big").decode("latin-1").rstrip(" ")


def decode(data: bytes | bytearray | memoryview | np.ndarray) -> DecodedStream:
    """The BBO table (BBO_SCHEMA) and the stale report of concatenated BBO update records."""
    rec = bbo_records.to_array(data)
    is_symbol = rec["kind"] == bbo_records.KIND_SYMBOL
    is_bbo = rec["kind"] == bbo_records.KIND_BBO
    unknown = ~(is_symbol | is_bbo)
    if unknown.any():
        raise ValueError(f"record {int(np.argmax(unknown))}: unknown kind {int(rec['kind'][unknown][0])}")
    # Name of each row's locate as of that row: replay the R records in order.
    names: dict[int, str] = {}
    symbols: list[str] = []
    stale: dict[int, dict[str, int]] = {}
    keep = np.zeros(len(rec), np.bool_)
    symbol_rows = set(np.flatnonzero(is_symbol).tolist())
    stale_rows = is_bbo & ((rec["flags"] & bbo_records.FLAG_STALE) != 0)
    for i in range(len(rec)):
        locate = int(rec["stock_locate"][i])
        if i in symbol_rows:
            names[locate] = _name(rec["bid_size"][i])
        elif stale_rows[i]:
            entry = stale.setdefault(locate, {"rows": 0, "first_seq": int(rec["seq"][i])})
            entry["rows"] += 1
        else:
            keep[i] = True
            symbols.append(names.get(locate, ""))
    rows = rec[keep]
    table = bbo_table(rows["seq"], rows["timestamp"], rows["stock_locate"], symbols,
                      rows["bid_price"], rows["ask_price"], rows["bid_size"], rows["ask_size"])
    return DecodedStream(table, stale, names)
