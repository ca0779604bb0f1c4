"""The BBO update record: what leaves the RTL order book, one AXI-Stream beat per record.

`BBO_FIELDS` (and `LEVEL_FIELDS` for depth) is the only definition of the
record; its layout (`layout`, a `tickaccel.schema.bitfields.RecordLayout`) gives
the bit positions, the NumPy dtype, pack/unpack and the Verilog header
``hw/rtl/bbo_update.vh``, the same way `tickaccel.schema.records` derives the
book-event record. ``python -m tickaccel.schema.bbo_records --write`` regenerates the header; a
test fails when the checked-in copy is stale.

Two kinds travel on the stream, in feed order:

- ``B``: the book event with sequence ``seq`` changed the best bid or ask of
  ``stock_locate`` (or made the symbol stale); the four BBO columns hold the
  book after the event, 0 for an empty side.
- ``R``: a stock directory message named ``stock_locate``; the name is in
  ``bid_size`` (8 ASCII bytes, first in the MSB), so a decoder can give each
  later row its symbol exactly as the software books do.

``flags`` bit 0 (`FLAG_STALE`): the symbol's book in hardware is no longer
known to be exact (the order store or its price-level store overflowed);
set on every record of the symbol until the host clears it over AXI-Lite.

Optional depth (order_book parameter ``DEPTH_OUT`` = N > 0): every record is
N levels (`LEVEL_FIELDS`, best first) wider, and a ``B`` record is also sent
when an event changed one of the best N levels of its symbol's side without
changing the BBO (`FLAG_DEPTH_ONLY`: not a BBO row). A record whose event
changed those levels carries the side's N levels after it (`FLAG_DEPTH`, side
in `FLAG_ASK`); an event changes one side only, so a decoder that keeps each
side's last levels knows the whole top-N book at every record.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from tickaccel import hw
from tickaccel.schema.bitfields import Field, RecordLayout
from tickaccel.schema.generated import header_main

# name, width in bits, what it holds
BBO_FIELDS: tuple[Field, ...] = (
    ("kind", 8, "'B' BBO update, 'R' stock directory (symbol name in bid_size)"),
    ("flags", 8, "bit 0: the symbol's book is stale; with depth: bit 1 levels follow, bit 2 ask side, bit 3 depth only"),
    ("stock_locate", 16, "stock locate code"),
    ("timestamp", 48, "ns after midnight, of the book event"),
    ("seq", 64, "MoldUDP64 sequence number of the book event"),
    ("bid_price", 32, "best bid price after the event, 0 when no bid"),
    ("ask_price", 32, "best ask price after the event, 0 when no ask"),
    ("bid_size", 64, "shares at the best bid; R: stock symbol, 8 ASCII bytes, first in the MSB"),
    ("ask_size", 64, "shares at the best ask"),
)

# One depth level, as the record carries it after the BBO fields (and as the
# RTL's level cache holds it: {orders, size, price}).
LEVEL_FIELDS: tuple[Field, ...] = (
    ("price", 32, "level price, 0 when the side has fewer levels"),
    ("size", 64, "shares at the level"),
    ("orders", 32, "orders at the level"),
)
LEVEL = RecordLayout("BBO depth level", LEVEL_FIELDS)
LEVEL_WIDTH = LEVEL.width

KIND_BBO = ord("B")
KIND_SYMBOL = ord("R")
FLAG_STALE = 1
FLAG_DEPTH = 2       # the record carries its side's best levels after the event (they changed)
FLAG_ASK = 4         # those levels are the ask side's
FLAG_DEPTH_ONLY = 8  # the BBO did not change: a depth row only, not a BBO row


def fields(depth: int = 0) -> tuple[Field, ...]:
    """The record's fields with `depth` levels: the BBO fields, then ``price_1, size_1, orders_1, ...``."""
    return BBO_FIELDS + tuple((f"{name}_{k}", width, what) for k in range(1, depth + 1)
                              for name, width, what in LEVEL_FIELDS)


@functools.cache
def layout(depth: int = 0) -> RecordLayout:
    """The record's layout with `depth` levels."""
    return RecordLayout("BBO update" + (f" with {depth} depth levels" if depth else ""), fields(depth))


def positions(depth: int = 0) -> dict[str, tuple[int, int]]:
    """name -> (lsb, width) of the record with `depth` levels."""
    return layout(depth).positions


def record_width(depth: int = 0) -> int:
    return layout(depth).width


def record_dtype(depth: int = 0) -> np.dtype:
    return layout(depth).dtype


FIELD_POSITIONS: dict[str, tuple[int, int]] = positions()  # name -> (lsb, width)
RECORD_WIDTH = record_width()
RECORD_BYTES = layout().nbytes
RECORD_DTYPE = record_dtype()


def pack(values: dict[str, int], depth: int = 0) -> int:
    """Record fields (missing ones 0) as one record_width(depth)-bit integer."""
    return layout(depth).pack(values)


def unpack(word: int, depth: int = 0) -> dict[str, int]:
    """The fields of a record_width(depth)-bit record integer."""
    return layout(depth).unpack(word)


def to_bytes(word: int, depth: int = 0) -> bytes:
    """Byte k is tdata[8k+7:8k] of the record's beat."""
    return layout(depth).to_bytes(word)


def from_bytes(data: bytes, depth: int = 0) -> int:
    return layout(depth).from_bytes(data)


def to_array(data: bytes | bytearray | memoryview | np.ndarray, depth: int = 0) -> np.ndarray:
    """Concatenated records (as `to_bytes` lays them out) as a record_dtype(depth) array, column by column."""
    return layout(depth).to_array(data)


# ---- Verilog header ----

HEADER_PATH = Path(hw.__file__).resolve().parent / "rtl" / "bbo_update.vh"


def verilog_header() -> str:
    """Text of bbo_update.vh: the record layout, kinds and flag bits."""
    lines = [
        "// Generated by `python -m tickaccel.schema.bbo_records --write` from host/schema/bbo_records.py.",
        "// Do not edit: a test fails when this file is stale. Included inside a module body.",
        "",
        f"localparam BBO_UPDATE_WIDTH = {RECORD_WIDTH};",
    ]
    lines += layout().verilog_localparams("BBO")
    lines += [
        "",
        "// Optional depth: DEPTH_OUT levels of BBO_LEVEL_WIDTH bits from bit BBO_UPDATE_WIDTH, best first.",
        f"localparam BBO_LEVEL_WIDTH = {LEVEL_WIDTH};",
    ]
    lines += LEVEL.verilog_localparams("BBO_LEVEL")
    lines += [
        "",
        f"localparam BBO_KIND_BBO = 8'h{KIND_BBO:02x};  // B",
        f"localparam BBO_KIND_SYMBOL = 8'h{KIND_SYMBOL:02x};  // R",
        f"localparam BBO_FLAG_STALE = 8'h{FLAG_STALE:02x};",
        f"localparam BBO_FLAG_DEPTH = 8'h{FLAG_DEPTH:02x};  // the side's levels follow (they changed)",
        f"localparam BBO_FLAG_ASK = 8'h{FLAG_ASK:02x};  // those levels are the ask side's",
        f"localparam BBO_FLAG_DEPTH_ONLY = 8'h{FLAG_DEPTH_ONLY:02x};  // BBO unchanged: not a BBO row",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(header_main(HEADER_PATH, verilog_header))
