"""Synthetic BBO, depth and trade tables with a real feed's shape, for tests and benchmarks.

Symbol activity is Zipf-skewed, prices random-walk on a tick grid, sides go
empty now and then, timestamps repeat and occasionally jump, rows of many
symbols interleave in seq order.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from tickaccel.schema.tables import bbo_table, depth_table, trades_table
from tickaccel.schema.units import PRICE_SCALE

NOT_PRINTABLE_C = 0.06  # share of C executions marked not printable, about a real feed's


def _symbols(locate: np.ndarray) -> pa.Array:
    distinct, inverse = np.unique(locate, return_inverse=True)
    names = pa.array([f"S{int(x):05d}" for x in distinct], pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(inverse.astype(np.int32)), names).cast(pa.string())


def _walk(rng, locate: np.ndarray, n_symbols: int, ticks: int = 100) -> np.ndarray:
    """Per-symbol random walk of prices on a grid of `ticks` price units, starting near $10-$200."""
    base = rng.integers(10, 200, n_symbols) * PRICE_SCALE
    steps = rng.integers(-1, 2, len(locate)) * ticks
    order = np.argsort(locate, kind="stable")
    walk = np.empty(len(locate), np.int64)
    walk[order] = np.cumsum(steps[order])
    grouped = locate[order]
    first = np.r_[0, np.nonzero(grouped[1:] != grouped[:-1])[0] + 1]
    offsets = np.zeros(len(locate), np.int64)
    offsets[order] = np.repeat(walk[order][first] - steps[order][first], np.diff(np.r_[first, len(locate)]))
    return np.maximum(base[locate - 1] + walk - offsets, ticks)


def _times(rng, n: int, gap_ns: int, jump_every: int) -> np.ndarray:
    gaps = rng.exponential(gap_ns, n).astype(np.int64) * (rng.random(n) > 0.2)  # 20% equal timestamps
    if jump_every:
        gaps[rng.random(n) < 1.0 / jump_every] += 60_000_000_000
    return 34_200_000_000_000 + np.cumsum(gaps)


def synthetic_locates(rng, n: int, n_symbols: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, n_symbols + 1) ** 1.1
    return (rng.choice(n_symbols, n, p=weights / weights.sum()) + 1).astype(np.uint16)


def synthetic_bbo(n: int, n_symbols: int = 100, seed: int = 0, gap_ns: int = 20_000,
                  empty_fraction: float = 0.01, jump_every: int = 0) -> pa.Table:
    """A BBO table of `n` rows over `n_symbols` symbols."""
    rng = np.random.default_rng(seed)
    locate = synthetic_locates(rng, n, n_symbols)
    bid = _walk(rng, locate, n_symbols)
    ask = bid + rng.integers(1, 4, n) * 100
    bid_size = rng.integers(1, 50, n) * 100
    ask_size = rng.integers(1, 50, n) * 100
    empty_bid = rng.random(n) < empty_fraction
    empty_ask = rng.random(n) < empty_fraction
    bid[empty_bid], bid_size[empty_bid] = 0, 0
    ask[empty_ask], ask_size[empty_ask] = 0, 0
    return bbo_table(np.arange(1, n + 1, dtype=np.uint64) * 3, _times(rng, n, gap_ns, jump_every),
                     locate, _symbols(locate), bid, ask, bid_size, ask_size)


def synthetic_trades(bbo: pa.Table, fraction: float = 0.3, seed: int = 1) -> pa.Table:
    """Trades at about `fraction` of the BBO rows, at the bid or the ask, one seq before the quote.

    About `NOT_PRINTABLE_C` of the C executions are not printable, as on a real feed.
    """
    rng = np.random.default_rng(seed)
    rows = np.nonzero(rng.random(len(bbo)) < fraction)[0]
    bid = bbo.column("bid_price").to_numpy()[rows].astype(np.int64)
    ask = bbo.column("ask_price").to_numpy()[rows].astype(np.int64)
    hit_bid = rng.random(len(rows)) < 0.5
    price = np.where(hit_bid, bid, ask)
    price = np.where(price > 0, price, np.maximum(bid, ask))
    kind = rng.choice(np.frombuffer(b"ECPQ", np.uint8), len(rows), p=[0.7, 0.1, 0.15, 0.05])
    side = np.where(kind == ord("Q"), ord(" "), np.where(hit_bid, ord("B"), ord("S"))).astype(np.uint8)
    locate = bbo.column("stock_locate").to_numpy()[rows]
    shares = rng.integers(1, 10, len(rows)) * 100
    printable = (kind != ord("C")) | (rng.random(len(rows)) >= NOT_PRINTABLE_C)
    order_ref = np.where(kind == ord("Q"), 0, np.arange(1, len(rows) + 1)).astype(np.uint64)
    cross_type = np.where(kind == ord("Q"), ord("O"), ord(" ")).astype(np.uint8)
    return trades_table(bbo.column("seq").to_numpy()[rows] - 1, bbo.column("timestamp").to_numpy()[rows],
                        locate, _symbols(locate), kind, side, price.astype(np.uint32), shares,
                        np.arange(1, len(rows) + 1), printable, order_ref, cross_type)


def synthetic_depth(bbo: pa.Table, levels: int = 5, seed: int = 2) -> pa.Table:
    """A depth table with a row at every BBO row plus extra rows changing deeper levels only."""
    rng = np.random.default_rng(seed)
    n = len(bbo)
    extra = rng.random(n) < 0.5
    rows = np.sort(np.r_[np.arange(n), np.nonzero(extra)[0]])
    seq = bbo.column("seq").to_numpy()[rows] + np.r_[False, rows[1:] == rows[:-1]].astype(np.uint64)
    bid1 = bbo.column("bid_price").to_numpy()[rows].astype(np.int64)
    ask1 = bbo.column("ask_price").to_numpy()[rows].astype(np.int64)
    step = np.arange(levels) * 100
    price = np.concatenate([np.where(bid1[:, None] > 0, np.maximum(bid1[:, None] - step, 0), 0),
                            np.where(ask1[:, None] > 0, ask1[:, None] + step, 0)], axis=1)
    size = rng.integers(1, 50, price.shape) * 100 * (price > 0)
    size[:, 0] = bbo.column("bid_size").to_numpy()[rows]
    size[:, levels] = bbo.column("ask_size").to_numpy()[rows]
    size[rng.random(size.shape) < 0.05] = 0
    price[size == 0] = 0
    size[:, 0] = np.where(price[:, 0] > 0, size[:, 0], 0)
    locate = bbo.column("stock_locate").to_numpy()[rows]
    return depth_table(seq, bbo.column("timestamp").to_numpy()[rows], locate, _symbols(locate),
                       price.astype(np.uint32), size.astype(np.uint64), (size > 0).astype(np.uint32))
