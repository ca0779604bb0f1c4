"""The NumPy/Python oracle: every signal computed the plain way, one row at a time.

Slow and obviously right; the fast backends are held to it by the tests. The
definitions below are the contract of every backend:

- Quote signals (mid, spread, spread_bps, microprice, imbalance) are NaN where
  either side is empty (price 0); prices are dollars (price / PRICE_SCALE).
- `ofi` is the Cont–Kukanov–Stoikov order-flow imbalance of a row against the
  previous row of its symbol (0 on a symbol's first row); an empty bid counts
  as price 0 size 0, an empty ask as price +inf size 0.
- `ema_mid` is a time-aware EMA, y_k = a y_{k-1} + (1-a) m_k with
  a = 2^(-Δt/half_life), Δt from the symbol's previous row. Rows with an empty
  side add no value but still decay: the EMA is y/w, where w is the same
  recurrence over the validity indicator. It therefore holds its value through
  empty-side rows, equals the mid on a symbol's first valid row, and is NaN
  before it or once w < 2^-900 (about 900 half-lives without a valid mid).
  A row at the same nanosecond as the previous row of its symbol gets weight 0.
- `realized_variance` sums r^2 over the symbol's rows in the trailing window
  (t - W, t], where r = log1p((s - s_prev) / s_prev), s = bid + ask on rows
  with both sides, s_prev the symbol's previous such row (r = 0 otherwise).
- `trade_vwap` / `trade_imbalance` are as-of joined to BBO rows: the trades of
  the row's symbol with seq <= the row's seq and timestamp in (t - W, t].
  VWAP = Σ price·shares / Σ shares; imbalance = Σ sign·shares / Σ |sign|·shares.
  Trades are the printable executions only (`Trades.from_table` drops
  non-printable C and broken-trade B rows for every backend).
- `depth_imbalance` is that of the symbol's latest depth row with seq <= the
  row's seq: Σ w_l (bid_size_l − ask_size_l) / Σ w_l (bid_size_l + ask_size_l)
  over the first len(weights) levels, NaN if a side's level 1 is empty.
"""
from __future__ import annotations

import math

import numpy as np

from tickaccel.kernels.columns import Depth, Quotes, Trades
from tickaccel.kernels.spec import Signal, SignalSpec
from tickaccel.schema.units import BASIS_POINTS, PRICE_SCALE

EMA_MIN_WEIGHT = 2.0 ** -900
LN2 = math.log(2.0)
EMPTY_ASK = 1 << 32  # an empty ask is above every price


def quote_signals(q: Quotes) -> dict[str, np.ndarray]:
    """mid, spread, spread_bps, microprice and imbalance of every row."""
    bid, ask = q.bid.astype(np.float64), q.ask.astype(np.float64)
    bsz, asz = q.bid_size.astype(np.float64), q.ask_size.astype(np.float64)
    both = (q.bid > 0) & (q.ask > 0)
    sized = both & (bsz + asz > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "mid": np.where(both, (bid + ask) / (2 * PRICE_SCALE), np.nan),
            "spread": np.where(both, (ask - bid) / PRICE_SCALE, np.nan),
            "spread_bps": np.where(both, 2.0 * BASIS_POINTS * (ask - bid) / (bid + ask), np.nan),
            "microprice": np.where(sized, (bid * asz + ask * bsz) / (bsz + asz) / PRICE_SCALE, np.nan),
            "imbalance": np.where(sized, (bsz - asz) / (bsz + asz), np.nan),
        }


def _sides(bid: int, ask: int, bsz: int, asz: int) -> tuple[int, int, int, int]:
    return (bid, bsz if bid else 0, ask if ask else EMPTY_ASK, asz if ask else 0)


def ofi(q: Quotes) -> np.ndarray:
    """Order-flow imbalance of each row against its symbol's previous row."""
    out = np.zeros(len(q), np.int64)
    prev: dict[int, tuple[int, int, int, int]] = {}
    for i in range(len(q)):
        now = _sides(int(q.bid[i]), int(q.ask[i]), int(q.bid_size[i]), int(q.ask_size[i]))
        before = prev.get(int(q.locate[i]))
        if before is not None:
            bp, bq, ap, aq = now
            pbp, pbq, pap, paq = before
            out[i] = (bq * (bp >= pbp) - pbq * (bp <= pbp) - aq * (ap <= pap) + paq * (ap >= pap))
        prev[int(q.locate[i])] = now
    return out


def ema_mid(q: Quotes, half_life_ns: int) -> np.ndarray:
    """Time-aware EMA of mid per symbol (see the module docstring for empty sides)."""
    out = np.full(len(q), np.nan)
    state: dict[int, tuple[float, float, int]] = {}  # locate -> (y, w, last timestamp)
    for i in range(len(q)):
        valid = q.bid[i] > 0 and q.ask[i] > 0
        value = (float(q.bid[i]) + float(q.ask[i])) / (2 * PRICE_SCALE) if valid else 0.0
        weight = 1.0 if valid else 0.0
        loc = int(q.locate[i])
        if loc in state:
            y, w, last = state[loc]
            x = float(q.ts[i] - last) / half_life_ns * LN2
            decay, gain = math.exp(-x), -math.expm1(-x)
            y, w = decay * y + gain * value, decay * w + gain * weight
        else:
            y, w = value, weight
        state[loc] = (y, w, int(q.ts[i]))
        if w >= EMA_MIN_WEIGHT:
            out[i] = y / w
    return out


def squared_returns(q: Quotes) -> np.ndarray:
    """r^2 of each row against its symbol's previous row with both sides present."""
    out = np.zeros(len(q))
    last: dict[int, float] = {}
    for i in range(len(q)):
        if q.bid[i] > 0 and q.ask[i] > 0:
            s = float(q.bid[i]) + float(q.ask[i])
            loc = int(q.locate[i])
            if loc in last:
                out[i] = math.log1p((s - last[loc]) / last[loc]) ** 2
            last[loc] = s
    return out


def _window_rows(q: Quotes, window_ns: int):
    """For each row, the indices of its symbol's rows in (t - W, t] up to and including it."""
    rows: dict[int, list[int]] = {}
    for i in range(len(q)):
        mine = rows.setdefault(int(q.locate[i]), [])
        mine.append(i)
        start = len(mine) - 1
        while start > 0 and q.ts[mine[start - 1]] > q.ts[i] - window_ns:
            start -= 1
        yield i, mine[start:]


def ofi_sum(q: Quotes, window_ns: int) -> np.ndarray:
    terms = ofi(q)
    out = np.zeros(len(q), np.int64)
    for i, rows in _window_rows(q, window_ns):
        out[i] = sum(int(terms[j]) for j in rows)
    return out


def realized_variance(q: Quotes, window_ns: int) -> np.ndarray:
    terms = squared_returns(q)
    out = np.zeros(len(q))
    for i, rows in _window_rows(q, window_ns):
        out[i] = math.fsum(terms[j] for j in rows)
    return out


def _trade_windows(q: Quotes, trades: Trades, window_ns: int):
    """For each BBO row, the indices of its symbol's trades with seq <= its seq in (t - W, t]."""
    seen: dict[int, list[int]] = {}
    k = 0
    for i in range(len(q)):
        while k < len(trades) and trades.seq[k] <= q.seq[i]:
            seen.setdefault(int(trades.locate[k]), []).append(k)
            k += 1
        mine = seen.get(int(q.locate[i]), [])
        yield i, [j for j in mine if trades.ts[j] > q.ts[i] - window_ns]


def trade_vwap(q: Quotes, trades: Trades, window_ns: int) -> np.ndarray:
    out = np.full(len(q), np.nan)
    for i, rows in _trade_windows(q, trades, window_ns):
        notional = sum(int(trades.price[j]) * int(trades.shares[j]) for j in rows)
        shares = sum(int(trades.shares[j]) for j in rows)
        if shares:
            out[i] = float(notional) / float(shares) / PRICE_SCALE
    return out


def trade_imbalance(q: Quotes, trades: Trades, window_ns: int) -> np.ndarray:
    out = np.full(len(q), np.nan)
    for i, rows in _trade_windows(q, trades, window_ns):
        signed = sum(int(trades.sign[j]) * int(trades.shares[j]) for j in rows)
        total = sum(abs(int(trades.sign[j])) * int(trades.shares[j]) for j in rows)
        if total:
            out[i] = float(signed) / float(total)
    return out


def depth_row_imbalance(depth: Depth, weights: tuple[float, ...]) -> np.ndarray:
    """Weighted top-N imbalance of each depth row (NaN if a side's level 1 is empty)."""
    levels = min(len(weights), depth.bid_size.shape[1])
    num = np.zeros(len(depth))
    den = np.zeros(len(depth))
    for lvl in range(levels):
        bsz = np.where(depth.bid_price[:, lvl] > 0, depth.bid_size[:, lvl], 0).astype(np.float64)
        asz = np.where(depth.ask_price[:, lvl] > 0, depth.ask_size[:, lvl], 0).astype(np.float64)
        num = num + weights[lvl] * (bsz - asz)
        den = den + weights[lvl] * (bsz + asz)
    ok = (depth.bid_price[:, 0] > 0) & (depth.ask_price[:, 0] > 0) & (den > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, num / den, np.nan)


def depth_imbalance(q: Quotes, depth: Depth, weights: tuple[float, ...]) -> np.ndarray:
    per_row = depth_row_imbalance(depth, weights)
    out = np.full(len(q), np.nan)
    latest: dict[int, float] = {}
    k = 0
    for i in range(len(q)):
        while k < len(depth) and depth.seq[k] <= q.seq[i]:
            latest[int(depth.locate[k])] = per_row[k]
            k += 1
        out[i] = latest.get(int(q.locate[i]), np.nan)
    return out


def _one(sig: Signal, q: Quotes, quotes: dict, depth: Depth | None, trades: Trades | None) -> np.ndarray:
    if sig.kind in quotes:
        return quotes[sig.kind]
    return {
        "ofi": lambda: ofi(q),
        "ofi_sum": lambda: ofi_sum(q, sig.window_ns),
        "ema_mid": lambda: ema_mid(q, sig.half_life_ns),
        "realized_variance": lambda: realized_variance(q, sig.window_ns),
        "trade_vwap": lambda: trade_vwap(q, trades, sig.window_ns),
        "trade_imbalance": lambda: trade_imbalance(q, trades, sig.window_ns),
        "depth_imbalance": lambda: depth_imbalance(q, depth, sig.weights),
    }[sig.kind]()


def compute_reference(q: Quotes, spec: SignalSpec, depth: Depth | None = None,
                      trades: Trades | None = None) -> dict[str, np.ndarray]:
    """Every signal of `spec` for the rows of `q`, in one pass over the whole table."""
    quotes = quote_signals(q)
    return {sig.name: _one(sig, q, quotes, depth, trades) for sig in spec.signals}
