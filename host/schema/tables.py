"""Arrow schemas and table builders of the book outputs: BBO, top-N depth and trades.

Both books (the oracle and the fast book) hand their rows to these builders, so
the two produce tables with identical schemas and can be compared with
``Table.equals``. The NumPy row records (`BBO_ROW`, `DEPTH_ROW` with
`DEPTH_LEVEL`, `TRADE_ROW`) are the same tables as the fast book writes them,
derived from the schemas.

The trades table has a row per execution (E, C), non-cross trade (P), cross
trade (Q) and broken trade (B). ``printable`` says whether the execution counts
in volume: C carries the flag (``"Y"``), E, P and Q are printable, and a B row is
not. ``order_ref`` is the executed order's reference (E, C) or the P message's
own field, 0 for Q and B; ``cross_type`` is Q's cross type, a space for every
other row (as ``side`` is for Q and B). A B message ("the trade with this match
number is broken") becomes its own row of type ``"B"`` with that match number,
price and shares 0, instead of a flag on the earlier row: a book writes its rows
as the feed arrives and never revisits one, so a broken trade can be found by
joining the B rows' match numbers with the other rows'. Volume-type consumers
(`printable_trades`, the signal kernels) keep printable rows only, which drops
the B rows too.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from tickaccel.schema.itch import SIDE_NONE

_HEAD = [
    ("seq", pa.uint64()),
    ("timestamp", pa.uint64()),
    ("stock_locate", pa.uint16()),
    ("symbol", pa.string()),
]

BBO_SCHEMA = pa.schema(_HEAD + [
    ("bid_price", pa.uint32()),
    ("ask_price", pa.uint32()),
    ("bid_size", pa.uint64()),
    ("ask_size", pa.uint64()),
])

TRADES_SCHEMA = pa.schema(_HEAD + [
    ("type", pa.string()),
    ("side", pa.string()),
    ("price", pa.uint32()),
    ("shares", pa.uint64()),
    ("match_number", pa.uint64()),
    ("printable", pa.bool_()),
    ("order_ref", pa.uint64()),
    ("cross_type", pa.string()),
])

# The `type` of a broken-trade row, and the `side` / `cross_type` of a row whose message has none.
BROKEN_TRADE = "B"
NO_CHARACTER = chr(SIDE_NONE)
PRINTABLE = "Y"  # C's printable flag when the execution counts in volume: ``printable`` true

# One price level of the depth table; its columns are these, named per side and rank.
_LEVEL = [
    ("price", pa.uint32()),
    ("size", pa.uint64()),
    ("orders", pa.uint32()),
]

TABLE_NAMES = ("bbo", "depth", "trades")


def depth_schema(levels: int) -> pa.Schema:
    """Schema of the depth table for the top `levels` price levels of each side."""
    fields = list(_HEAD)
    for i in range(1, levels + 1):
        for side in ("bid", "ask"):
            fields += [(f"{side}_{name}_{i}", kind) for name, kind in _LEVEL]
    return pa.schema(fields)


def _row_dtype(schema: pa.Schema) -> np.dtype:
    """The NumPy record of a row of `schema`, less the symbol (rows keep the stock locate).

    A one-character string column holds its ASCII code (uint8). Fields keep
    column order but lie widest first, so each is aligned with no padding inside.
    """
    fields = [(f.name, np.dtype(np.uint8) if f.type == pa.string()
               else np.dtype(f.type.to_pandas_dtype())) for f in schema if f.name != "symbol"]
    offsets, at = {}, 0
    for name, dtype in sorted(fields, key=lambda field: -field[1].itemsize):
        offsets[name] = at
        at += dtype.itemsize
    widest = max(dtype.itemsize for _, dtype in fields)
    return np.dtype({"names": [name for name, _ in fields],
                     "formats": [dtype for _, dtype in fields],
                     "offsets": [offsets[name] for name, _ in fields],
                     "itemsize": -(-at // widest) * widest})


BBO_ROW = _row_dtype(BBO_SCHEMA)
TRADE_ROW = _row_dtype(TRADES_SCHEMA)  # type, side and cross_type as ASCII codes
DEPTH_ROW = _row_dtype(pa.schema(_HEAD))  # a depth row's head; its 2N levels: DEPTH_LEVEL
DEPTH_LEVEL = _row_dtype(pa.schema(_LEVEL))


# Widest symbol in UTF-8 bytes: 8 ITCH characters, each at most 2 bytes once decoded as Latin-1.
SYMBOL_BYTES = 16


def symbol_names(names: dict[int, str], n_locates: int) -> tuple[np.ndarray, np.ndarray]:
    """Per stock locate, its symbol as UTF-8 bytes (a (n_locates, `SYMBOL_BYTES`) array) and
    their lengths; "" for a locate not in `names`. What `symbol_column` takes."""
    encoded = np.zeros((n_locates, SYMBOL_BYTES), np.uint8)
    lengths = np.zeros(n_locates, np.int32)
    for locate, name in names.items():
        raw = name.encode("utf-8")
        encoded[locate, :len(raw)] = np.frombuffer(raw, np.uint8)
        lengths[locate] = len(raw)
    return encoded, lengths


def symbol_column(locates: np.ndarray, names: tuple[np.ndarray, np.ndarray]) -> pa.Array:
    """Per-row symbol strings: `names` (from `symbol_names`) taken at `locates`.

    Built from buffers with NumPy: no Python string per row.
    """
    encoded, lengths = names
    locates = np.asarray(locates, np.intp)
    row_lengths = lengths[locates]
    offsets = np.zeros(len(locates) + 1, np.int32)
    np.cumsum(row_lengths, out=offsets[1:])
    data = encoded[locates][np.arange(SYMBOL_BYTES) < row_lengths[:, None]]
    return pa.StringArray.from_buffers(len(locates), pa.py_buffer(offsets), pa.py_buffer(data))


def _column(values: np.ndarray | Sequence, kind: pa.DataType) -> pa.Array:
    """An Arrow array of `kind` from a NumPy array, wrapped as a buffer (a copy only to change
    dtype or layout), or from a Python sequence.

    `pa.array` on a NumPy array would import pandas when it is installed (a few tenths of a
    second of every replay's start); the buffers need no pandas.
    """
    if not isinstance(values, np.ndarray):
        return pa.array(values, kind)
    if kind == pa.bool_():
        bits = np.packbits(np.asarray(values, np.bool_), bitorder="little")
        return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(bits)])
    data = np.ascontiguousarray(values, kind.to_pandas_dtype())
    return pa.Array.from_buffers(kind, len(data), [None, pa.py_buffer(data)])


def bbo_table(seq: np.ndarray, timestamp: np.ndarray, locate: np.ndarray,
              symbol: pa.Array | Sequence[str], bid_price: np.ndarray, ask_price: np.ndarray,
              bid_size: np.ndarray, ask_size: np.ndarray) -> pa.Table:
    """The BBO table from its columns."""
    return pa.Table.from_arrays([
        _column(seq, pa.uint64()), _column(timestamp, pa.uint64()),
        _column(locate, pa.uint16()), _strings(symbol),
        _column(bid_price, pa.uint32()), _column(ask_price, pa.uint32()),
        _column(bid_size, pa.uint64()), _column(ask_size, pa.uint64()),
    ], schema=BBO_SCHEMA)


def depth_table(seq: np.ndarray, timestamp: np.ndarray, locate: np.ndarray,
                symbol: pa.Array | Sequence[str], price: np.ndarray, size: np.ndarray,
                orders: np.ndarray) -> pa.Table:
    """The depth table; `price`, `size`, `orders` are (rows, 2N) arrays: N bid levels, then N ask."""
    levels = price.shape[1] // 2
    arrays = [
        _column(seq, pa.uint64()), _column(timestamp, pa.uint64()),
        _column(locate, pa.uint16()), _strings(symbol),
    ]
    for i in range(levels):
        for col in (i, levels + i):
            arrays += [_column(price[:, col], pa.uint32()), _column(size[:, col], pa.uint64()),
                       _column(orders[:, col], pa.uint32())]
    return pa.Table.from_arrays(arrays, schema=depth_schema(levels))


def _strings(values: pa.Array | Sequence[str]) -> pa.Array:
    return values if isinstance(values, pa.StringArray) else pa.array(values, pa.string())


_ASCII_END = 0x80


def _char_column(codes: np.ndarray | Sequence[str]) -> pa.Array:
    """One-character strings from their codes; a code from 0x80 up is its Latin-1 character,
    as the oracle decodes message bytes (only a damaged message carries one)."""
    if isinstance(codes, np.ndarray) and codes.dtype == np.uint8:
        if len(codes) and codes.max() >= _ASCII_END:
            return pa.array([chr(code) for code in codes.tolist()], pa.string())
        offsets = pa.py_buffer(np.arange(len(codes) + 1, dtype=np.int32))  # one byte a string
        return pa.StringArray.from_buffers(len(codes), offsets, pa.py_buffer(np.ascontiguousarray(codes)))
    return pa.array(list(codes), pa.string())


def trades_table(seq: np.ndarray, timestamp: np.ndarray, locate: np.ndarray,
                 symbol: pa.Array | Sequence[str], type_: np.ndarray | Sequence[str],
                 side: np.ndarray | Sequence[str], price: np.ndarray, shares: np.ndarray,
                 match_number: np.ndarray, printable: np.ndarray | Sequence[bool],
                 order_ref: np.ndarray, cross_type: np.ndarray | Sequence[str]) -> pa.Table:
    """The trades table; `type_`, `side`, `cross_type`: one-character strings or their ASCII codes."""
    return pa.Table.from_arrays([
        _column(seq, pa.uint64()), _column(timestamp, pa.uint64()),
        _column(locate, pa.uint16()), _strings(symbol),
        _char_column(type_), _char_column(side),
        _column(price, pa.uint32()), _column(shares, pa.uint64()),
        _column(match_number, pa.uint64()), _column(printable, pa.bool_()),
        _column(order_ref, pa.uint64()), _char_column(cross_type),
    ], schema=TRADES_SCHEMA)


def printable_trades(table: pa.Table) -> pa.Table:
    """The rows of a trades table that count in volume: printable executions, no B rows.

    A table written before the ``printable`` column existed has no B rows either and is
    taken whole.
    """
    if "printable" not in table.column_names:
        return table
    return table.filter(table.column("printable"))
