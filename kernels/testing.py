"""Small table builders and the oracle comparison used by the kernel tests (and any replay test)."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from tickaccel.kernels import TOLERANCE
from tickaccel.schema.tables import BROKEN_TRADE, NO_CHARACTER, bbo_table, depth_table, trades_table
from tickaccel.schema.units import PRICE_SCALE


def small_bbo(rows: list[tuple]) -> pa.Table:
    """BBO table from (timestamp, locate, bid, ask, bid_size, ask_size) tuples; seq = 1, 2, ..."""
    ts, loc, bid, ask, bsz, asz = (np.array(c) for c in zip(*rows))
    return bbo_table(np.arange(1, len(rows) + 1), ts, loc, [f"S{x}" for x in loc], bid, ask, bsz, asz)


def small_trades(rows: list[tuple]) -> pa.Table:
    """Trades from (seq, timestamp, locate, type, side, price, shares[, printable]) tuples.

    A row without `printable` is printable unless it is a broken trade (B).
    """
    rows = [row if len(row) == 8 else (*row, row[3] != BROKEN_TRADE) for row in rows]
    seq, ts, loc, kind, side, price, shares, printable = (list(c) for c in zip(*rows))
    return trades_table(np.array(seq), np.array(ts), np.array(loc), [f"S{x}" for x in loc],
                        kind, side, np.array(price), np.array(shares), np.arange(len(rows)),
                        printable, np.zeros(len(rows), np.uint64), [NO_CHARACTER] * len(rows))


def small_depth(rows: list[tuple]) -> pa.Table:
    """Depth from (seq, timestamp, locate, [bid sizes], [ask sizes]) tuples.

    Prices a cent apart: bids $100.00, $99.99, ..., asks $101.00, $101.01, ...
    """
    levels = len(rows[0][3])
    seq, ts, loc = (np.array(c) for c in list(zip(*rows))[:3])
    size = np.array([list(r[3]) + list(r[4]) for r in rows])
    price = np.array([[100 * PRICE_SCALE - 100 * i for i in range(levels)]
                  + [101 * PRICE_SCALE + 100 * i for i in range(levels)]] * len(rows))
    price = np.where(size > 0, price, 0)
    return depth_table(seq, ts, loc, [f"S{x}" for x in loc], price, size, (size > 0).astype(int))


def assert_same_signals(expected: pa.Table, actual: pa.Table) -> None:
    """Equal column names; integer columns exactly equal, float columns within TOLERANCE, NaN where NaN."""
    assert actual.column_names == expected.column_names
    for name in expected.column_names[4:]:
        want, got = expected.column(name).to_numpy(), actual.column(name).to_numpy()
        if want.dtype.kind == "i":
            np.testing.assert_array_equal(got, want, err_msg=name)
        else:
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{name}: NaN positions")
            np.testing.assert_allclose(got, want, rtol=TOLERANCE["rtol"], atol=TOLERANCE["atol"],
                                       equal_nan=True, err_msg=name)
