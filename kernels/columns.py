"""Input columns of the signal kernels, taken from Arrow tables without per-row objects.

Every backend reads the same NumPy views: prices stay ITCH integers, times and
sequence numbers are int64, sizes int64. Inputs are checked once here: times
and sequence numbers must not decrease in feed order (true of any ITCH feed)
and must fit in 47 bits, so that `(locate << 47) | value` is one sortable key.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tickaccel.errors import TickaccelError
from tickaccel.schema.tables import printable_trades

KEY_SHIFT = 47  # (stock_locate << 47) | timestamp-or-seq fits in int64
HEAD_COLUMNS = ("seq", "timestamp", "stock_locate", "symbol")


def _column(table: pa.Table, name: str, what: str, dtype) -> np.ndarray:
    if name not in table.column_names:
        raise TickaccelError(f"{what} table has no column {name!r}")
    column = table.column(name)
    if column.null_count:
        raise TickaccelError(f"{what} column {name!r} has nulls")
    return np.asarray(column.combine_chunks().to_numpy(zero_copy_only=False)).astype(dtype, copy=False)


def _check_order(seq: np.ndarray, ts: np.ndarray, what: str) -> None:
    if len(ts) and (np.any(ts[1:] < ts[:-1]) or np.any(seq[1:] < seq[:-1])):
        raise TickaccelError(f"{what} table: seq and timestamp must not decrease from row to row")
    if len(ts) and (ts.max() >= 1 << KEY_SHIFT or seq.max() >= 1 << KEY_SHIFT or ts.min() < 0):
        raise TickaccelError(f"{what} table: seq and timestamp must be below 2**{KEY_SHIFT}")


@dataclass(frozen=True)
class Quotes:
    """BBO columns in feed order."""

    seq: np.ndarray
    ts: np.ndarray
    locate: np.ndarray  # int32
    bid: np.ndarray  # uint32 price units, 0 = empty side
    ask: np.ndarray
    bid_size: np.ndarray  # int64
    ask_size: np.ndarray

    def __len__(self) -> int:
        return len(self.seq)

    @classmethod
    def from_table(cls, table: pa.Table) -> "Quotes":
        seq = _column(table, "seq", "BBO", np.int64)
        ts = _column(table, "timestamp", "BBO", np.int64)
        _check_order(seq, ts, "BBO")
        return cls(seq, ts, _column(table, "stock_locate", "BBO", np.int32),
                   _column(table, "bid_price", "BBO", np.uint32),
                   _column(table, "ask_price", "BBO", np.uint32),
                   _column(table, "bid_size", "BBO", np.int64),
                   _column(table, "ask_size", "BBO", np.int64))


@dataclass(frozen=True)
class Depth:
    """Top-N depth columns in feed order; level arrays are (rows, N)."""

    seq: np.ndarray
    locate: np.ndarray
    bid_price: np.ndarray
    ask_price: np.ndarray
    bid_size: np.ndarray
    ask_size: np.ndarray

    def __len__(self) -> int:
        return len(self.seq)

    @classmethod
    def from_table(cls, table: pa.Table) -> "Depth":
        levels = 0
        while f"bid_size_{levels + 1}" in table.column_names:
            levels += 1
        if levels == 0:
            raise TickaccelError("depth table has no bid_size_1 column")
        seq = _column(table, "seq", "depth", np.int64)
        _check_order(seq, _column(table, "timestamp", "depth", np.int64), "depth")

        def levels_of(prefix: str, dtype) -> np.ndarray:
            return np.stack([_column(table, f"{prefix}_{i}", "depth", dtype)
                             for i in range(1, levels + 1)], axis=1)

        return cls(seq, _column(table, "stock_locate", "depth", np.int32),
                   levels_of("bid_price", np.int64), levels_of("ask_price", np.int64),
                   levels_of("bid_size", np.int64), levels_of("ask_size", np.int64))


@dataclass(frozen=True)
class Trades:
    """Trade columns in feed order; `sign` is +1 buyer-initiated, -1 seller-initiated, 0 unknown.

    ITCH's side on an execution (E, C) or non-cross trade (P) is the side of the
    resting order, so the aggressor is the other side: "S" → +1, "B" → −1.
    Cross trades (Q) have no aggressor: 0. Only the rows that count in volume are
    kept (`printable_trades`: no non-printable C, no broken-trade B rows), here, so
    every backend computes its volume-type signals from the same trades.
    """

    seq: np.ndarray
    ts: np.ndarray
    locate: np.ndarray
    price: np.ndarray  # int64 price units
    shares: np.ndarray  # int64
    sign: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.seq)

    @classmethod
    def from_table(cls, table: pa.Table) -> "Trades":
        table = printable_trades(table)
        seq = _column(table, "seq", "trades", np.int64)
        ts = _column(table, "timestamp", "trades", np.int64)
        _check_order(seq, ts, "trades")
        side = _single_chars(table, "side")
        kind = _single_chars(table, "type")
        sign = np.where(side == ord("S"), 1, np.where(side == ord("B"), -1, 0)).astype(np.int64)
        sign[kind == ord("Q")] = 0
        return cls(seq, ts, _column(table, "stock_locate", "trades", np.int32),
                   _column(table, "price", "trades", np.int64),
                   _column(table, "shares", "trades", np.int64), sign)


def _single_chars(table: pa.Table, name: str) -> np.ndarray:
    """First byte of each string of a one-character column, as uint8 (0 for empty strings)."""
    if name not in table.column_names:
        raise TickaccelError(f"trades table has no column {name!r}")
    column = table.column(name).combine_chunks().cast(pa.string())
    offsets = np.frombuffer(column.buffers()[1], np.int32)[column.offset:column.offset + len(column) + 1]
    data = np.frombuffer(column.buffers()[2], np.uint8) if column.buffers()[2] is not None else np.zeros(1, np.uint8)
    starts = offsets[:-1]
    present = offsets[1:] > starts
    return np.where(present, data[np.minimum(starts, len(data) - 1)], 0).astype(np.uint8)
