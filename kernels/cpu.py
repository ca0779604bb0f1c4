"""The `cpu` backend: every signal in one sequential Numba pass over the rows in feed order.

No sort and no binary search. All of a symbol's state is one row of one buffer
indexed by stock_locate, seen through named record views (`SYMBOL_STATE`,
`ROW_WINDOW_STATE`, ...), so a row's update touches a few neighbouring cache
lines:

- row-local signals (quotes) and recurrences (OFI, EMA, last valid mid) are
  updated from that state as each row arrives;
- trailing windows (t - W, t] keep a running sum per symbol: a row (or trade)
  enters its symbol's sum when it arrives and leaves it once its time is at or
  before t - W of the current row. Times never decrease, so whatever has left
  has left for every later row, and one cursor per window walking all rows (or
  trades) in order finds the leavers: a second sequential stream, no per-symbol
  lists. Sums are int64 (exact) for OFI and trades, double-double for squared
  returns, reset to the exact term when a window holds one row (zero when none),
  so rounding cannot pile up;
- trades and depth rows are merged in by seq (both tables are seq-ordered): a
  trade enters the window sums once its seq <= the current BBO row's seq, a
  depth row sets its symbol's latest imbalance.

Chunks are calls of the same pass over consecutive row ranges with the state
and cursors carried, so any chunking gives the one-pass result.
"""
from __future__ import annotations

import math
from collections import namedtuple
from dataclasses import fields
from typing import NamedTuple

import numpy as np
from numba import njit

from tickaccel.kernels.columns import Depth, Quotes, Trades
from tickaccel.kernels.reference import EMA_MIN_WEIGHT, LN2
from tickaccel.kernels.spec import QUOTE_KINDS, SignalSpec
from tickaccel.kernels.terms import ofi_term
from tickaccel.schema.units import BASIS_POINTS, PRICE_SCALE

SMALL = 2.0 ** -7  # below it, a few series terms are as exact as libm's log1p / expm1

# A symbol's previous row, for the recurrences.
SYMBOL_STATE = np.dtype([
    ("seen", np.bool_),  # the symbol has had a row
    ("bid", np.int64), ("ask", np.int64), ("bid_size", np.int64), ("ask_size", np.int64),  # its sides (OFI)
    ("ts", np.int64),  # its time (EMA decay)
    ("has_total", np.bool_),  # some row of the symbol had both sides
    ("total", np.float64),  # bid + ask of the last such row (squared log returns)
], align=True)
# Per symbol and row window (ofi_sum, realized_variance): sums over the symbol's rows inside it.
ROW_WINDOW_STATE = np.dtype([
    ("rows", np.int64),
    ("ofi", np.int64),  # ofi_sum: sum of the rows' OFI
    ("r2_hi", np.float64), ("r2_lo", np.float64),  # realized_variance: double-double sum of squared returns
], align=True)
# Per symbol and trade window: VWAP is num / den = notional / shares, trade imbalance is
# signed shares / shares of the trades with a known aggressor.
TRADE_WINDOW_STATE = np.dtype([("num", np.int64), ("den", np.int64)], align=True)
# Per symbol and EMA: the decayed sum of the mids of two-sided rows, and of their weights (1 each).
EMA_STATE = np.dtype([("mid", np.float64), ("weight", np.float64)], align=True)

# The input columns as the named tuples Numba takes, field for field.
_QuoteColumns = namedtuple("_QuoteColumns", [f.name for f in fields(Quotes)])
_TradeColumns = namedtuple("_TradeColumns", [f.name for f in fields(Trades)])
_DepthColumns = namedtuple("_DepthColumns", [f.name for f in fields(Depth)])


class _Signals(NamedTuple):
    """The signals to compute, by family; a `*_col` is a signal's row in the float or int output.

    Entry j of a family's arrays belongs to the family's j-th signal, in spec order.
    """

    quote_col: np.ndarray  # float row of each of QUOTE_KINDS, -1 where not asked for
    ofi_col: int  # int row of the OFI, -1 if not asked for
    ema_half_life: np.ndarray  # ema_mid: half-life in ns (float64)
    ema_col: np.ndarray
    window_ns: np.ndarray  # row windows (ofi_sum, realized_variance): width in ns
    window_is_rv: np.ndarray  # realized_variance (a float row) or ofi_sum (an int row)
    window_col: np.ndarray
    trade_ns: np.ndarray  # trade windows (trade_vwap, trade_imbalance): width in ns
    trade_is_vwap: np.ndarray
    trade_col: np.ndarray
    depth_weights: np.ndarray  # depth_imbalance: weight per level, (signals, most levels), zero-padded
    depth_levels: np.ndarray  # levels used: as many as weights, at most the depth table's
    depth_col: np.ndarray


class _State(NamedTuple):
    """What a pass leaves to the next, updated in place; per-symbol arrays have a row per stock locate."""

    symbols: np.ndarray  # SYMBOL_STATE per symbol
    row_windows: np.ndarray  # ROW_WINDOW_STATE per symbol and row window
    trade_windows: np.ndarray  # TRADE_WINDOW_STATE per symbol and trade window
    emas: np.ndarray  # EMA_STATE per symbol and EMA
    depth_imbalance: np.ndarray  # latest value per symbol and depth signal, NaN before the symbol's first
    row_expiry: np.ndarray  # per row window: the first row that has not left it
    trade_expiry: np.ndarray  # per trade window: the first trade that has not left it
    row_ofi: np.ndarray  # per row, its OFI and squared return: what it takes out of the windows on leaving
    row_r2: np.ndarray


_ofi = njit(cache=True)(ofi_term)


@njit(cache=True)
def _dd_add(hi, lo, x):
    """Double-double (hi + lo) + x, normalized (Knuth's TwoSum)."""
    s = hi + x
    v = s - hi
    e = (hi - (s - v)) + (x - v) + lo
    h = s + e
    return h, e - (h - s)


@njit(cache=True)
def _decay_gain(x):
    """(exp(-x), 1 - exp(-x)) to full relative precision, x >= 0, with at most one libm call."""
    if x < SMALL:  # Taylor series of 1 - exp(-x) to x^6: truncation below 1e-16 relative
        gain = x * (1.0 - x / 2.0 * (1.0 - x / 3.0 * (1.0 - x / 4.0 * (1.0 - x / 5.0 * (1.0 - x / 6.0)))))
        return 1.0 - gain, gain
    if x < LN2:
        m = math.expm1(-x)
        return 1.0 + m, -m
    d = math.exp(-x)
    return d, 1.0 - d


@njit(cache=True)
def _log1p(u):
    """log1p(u); typical quote-to-quote returns take the series, truncation below 1e-16 relative."""
    if -SMALL < u < SMALL:
        return u * (1.0 + u * (-1.0 / 2.0 + u * (1.0 / 3.0 + u * (-1.0 / 4.0 + u * (
            1.0 / 5.0 + u * (-1.0 / 6.0 + u * (1.0 / 7.0 + u * (-1.0 / 8.0))))))))
    return math.log1p(u)


@njit(inline="always")
def _quote_signals(fout, i, quote_col, bid, ask, bid_size, ask_size):
    """Row i's quote signals (prices in dollars) into the float rows `quote_col` asks for; NaN for an empty side."""
    mid_col, spread_col, bps_col, micro_col, imb_col = quote_col[0], quote_col[1], quote_col[2], \
        quote_col[3], quote_col[4]
    both = bid > 0 and ask > 0
    sized = both and bid_size + ask_size > 0
    if mid_col >= 0:
        fout[mid_col, i] = (bid + ask) / (2 * PRICE_SCALE) if both else np.nan
    if spread_col >= 0:
        fout[spread_col, i] = (ask - bid) / PRICE_SCALE if both else np.nan
    if bps_col >= 0:
        fout[bps_col, i] = 2.0 * BASIS_POINTS * (ask - bid) / (bid + ask) if both else np.nan
    if micro_col >= 0:
        fout[micro_col, i] = (bid * ask_size + ask * bid_size) / (bid_size + ask_size) / PRICE_SCALE \
            if sized else np.nan
    if imb_col >= 0:
        fout[imb_col, i] = (bid_size - ask_size) / (bid_size + ask_size) if sized else np.nan


@njit(inline="always")
def _depth_imbalance(bid_price, ask_price, bid_size, ask_size, d, weights, levels):
    """Weighted size imbalance of depth row d over its first `levels` levels; NaN without both sides."""
    num = 0.0
    den = 0.0
    for lvl in range(levels):
        bs = float(bid_size[d, lvl]) if bid_price[d, lvl] > 0 else 0.0
        aS = float(ask_size[d, lvl]) if ask_price[d, lvl] > 0 else 0.0
        num = num + weights[lvl] * (bs - aS)
        den = den + weights[lvl] * (bs + aS)
    ok = bid_price[d, 0] > 0 and ask_price[d, 0] > 0 and den > 0
    return num / den if ok else np.nan


@njit(inline="always")
def _trade_terms(price, shares, sign, k, is_vwap):
    """Trade k's terms in a trade window's (num, den): see TRADE_WINDOW_STATE."""
    if is_vwap:
        return price[k] * shares[k], shares[k]
    return sign[k] * shares[k], abs(sign[k]) * shares[k]


@njit(inline="always")
def _ema_step(ema, seen, dt, half_life, mid, weight):
    """Decay the symbol's EMA over the dt ns since its last row and add this row; returns the EMA of the mid
    (NaN while its weight is negligible, i.e. before a two-sided row)."""
    if not seen:
        y, w = mid, weight
    elif dt == 0:  # decay 1, gain 0
        y, w = ema.mid, ema.weight
    else:
        decay, gain = _decay_gain(float(dt) / half_life * LN2)
        y = decay * ema.mid + gain * mid
        w = decay * ema.weight + gain * weight
    ema.mid = y
    ema.weight = w
    return y / w if w >= EMA_MIN_WEIGHT else np.nan


@njit(cache=True)
def _pass(r0, r1, next_trade, next_depth, quotes, trades, depth, signals, state, fout, iout):
    """Rows r0..r1-1 of `quotes` through every signal; returns the new (next_trade, next_depth).

    r0, r1: this chunk's rows; chunks come in row order, `state` carries what they need of earlier rows
    next_trade, next_depth: the first trade and depth row not yet merged in (0 before the first chunk)
    quotes, trades, depth: `_QuoteColumns`, `_TradeColumns`, `_DepthColumns`, each in seq order
    signals: `_Signals`, what to compute and into which output rows
    state: `_State`, updated in place
    fout, iout: float and int outputs, (output row, quote row)
    """
    seq, ts, loc = quotes.seq, quotes.ts, quotes.locate
    bid, ask, bid_size, ask_size = quotes.bid, quotes.ask, quotes.bid_size, quotes.ask_size
    tseq, tts, tloc = trades.seq, trades.ts, trades.locate
    dseq, dloc = depth.seq, depth.locate
    quote_col, ofi_col = signals.quote_col, signals.ofi_col
    ema_col, ema_half_life = signals.ema_col, signals.ema_half_life
    window_col, window_ns, window_is_rv = signals.window_col, signals.window_ns, signals.window_is_rv
    trade_col, trade_ns, trade_is_vwap = signals.trade_col, signals.trade_ns, signals.trade_is_vwap
    depth_col, depth_weights, depth_levels = signals.depth_col, signals.depth_weights, signals.depth_levels
    symbols, row_windows, trade_windows, emas = state.symbols, state.row_windows, state.trade_windows, state.emas
    depth_imbalance, row_ofi, row_r2 = state.depth_imbalance, state.row_ofi, state.row_r2
    row_expiry, trade_expiry = state.row_expiry, state.trade_expiry
    n_ema, n_win, n_trade, n_depth = len(ema_col), len(window_col), len(trade_col), len(depth_col)
    has_rv = False
    has_ofi_window = False
    for j in range(n_win):
        has_rv = has_rv or window_is_rv[j]
        has_ofi_window = has_ofi_window or not window_is_rv[j]
    need_ofi = ofi_col >= 0 or has_ofi_window
    k, d = next_trade, next_depth
    for i in range(r0, r1):
        s = loc[i]
        t = ts[i]
        b, a = np.int64(bid[i]), np.int64(ask[i])
        qb, qa = bid_size[i], ask_size[i]
        both = b > 0 and a > 0
        fb, fa = float(b), float(a)
        _quote_signals(fout, i, quote_col, fb, fa, float(qb), float(qa))

        # Depth rows up to this row's seq: each sets its symbol's latest imbalance.
        while d < len(dseq) and dseq[d] <= seq[i]:
            for j in range(n_depth):
                depth_imbalance[dloc[d], j] = _depth_imbalance(depth.bid_price, depth.ask_price, depth.bid_size,
                                                               depth.ask_size, d, depth_weights[j], depth_levels[j])
            d += 1
        for j in range(n_depth):
            fout[depth_col[j], i] = depth_imbalance[s, j]

        # Trades up to this row's seq enter their symbol's window sums; trades at or before
        # t - W leave them. Times never decrease, so what has left has left for every later
        # row: one cursor per window walks the trades in order, no per-symbol lists.
        while k < len(tseq) and tseq[k] <= seq[i]:
            for j in range(n_trade):
                window = trade_windows[tloc[k], j]
                num, den = _trade_terms(trades.price, trades.shares, trades.sign, k, trade_is_vwap[j])
                window.num += num
                window.den += den
            k += 1
        for j in range(n_trade):
            cut = t - trade_ns[j]
            g = trade_expiry[j]
            while g < k and tts[g] <= cut:
                window = trade_windows[tloc[g], j]
                num, den = _trade_terms(trades.price, trades.shares, trades.sign, g, trade_is_vwap[j])
                window.num -= num
                window.den -= den
                g += 1
            trade_expiry[j] = g
            window = trade_windows[s, j]
            if window.den > 0:
                ratio = float(window.num) / float(window.den)
                fout[trade_col[j], i] = ratio / PRICE_SCALE if trade_is_vwap[j] else ratio
            else:
                fout[trade_col[j], i] = np.nan

        # Recurrences against the symbol's previous row.
        previous = symbols[s]
        seen = previous.seen
        e = 0
        if seen and need_ofi:
            e = _ofi(b, a, qb, qa, previous.bid, previous.ask, previous.bid_size, previous.ask_size)
        if ofi_col >= 0:
            iout[ofi_col, i] = e
        dt = t - previous.ts
        previous.seen = True
        previous.bid = b
        previous.ask = a
        previous.bid_size = qb
        previous.ask_size = qa
        previous.ts = t

        r2 = 0.0
        if has_rv and both:
            total = fb + fa
            if previous.has_total:
                before = previous.total
                if total != before:
                    r = _log1p((total - before) / before)
                    r2 = r * r
            previous.total = total
            previous.has_total = True
        if n_win:
            row_ofi[i] = e
            row_r2[i] = r2

        mid = (fb + fa) / (2 * PRICE_SCALE) if both else 0.0
        weight = 1.0 if both else 0.0
        for j in range(n_ema):
            fout[ema_col[j], i] = _ema_step(emas[s, j], seen, dt, ema_half_life[j], mid, weight)

        # Trailing windows over the symbol's rows: this row enters, rows at or before t - W
        # leave (a cursor per window over all rows, as for trades; it stops at i at the latest).
        for j in range(n_win):
            window = row_windows[s, j]
            cut = t - window_ns[j]
            g = row_expiry[j]
            window.rows += 1
            if window_is_rv[j]:
                window.r2_hi, window.r2_lo = _dd_add(window.r2_hi, window.r2_lo, r2)
                while ts[g] <= cut:
                    gone = row_windows[loc[g], j]
                    gone.rows -= 1
                    if gone.rows == 0:  # empty: exactly zero, whatever rounding was left
                        gone.r2_hi, gone.r2_lo = 0.0, 0.0
                    else:
                        gone.r2_hi, gone.r2_lo = _dd_add(gone.r2_hi, gone.r2_lo, -row_r2[g])
                    g += 1
                if window.rows == 1:  # only this row: its term, exactly
                    window.r2_hi, window.r2_lo = r2, 0.0
                fout[window_col[j], i] = window.r2_hi + window.r2_lo
            else:
                window.ofi += e
                while ts[g] <= cut:
                    gone = row_windows[loc[g], j]
                    gone.ofi -= row_ofi[g]
                    gone.rows -= 1
                    g += 1
                iout[window_col[j], i] = window.ofi
            row_expiry[j] = g
    return k, d


class _Plan:
    """The kernel's `_Signals` for a spec, and the names of the signals each output row holds."""

    def __init__(self, spec: SignalSpec, trades: Trades | None, depth: Depth | None) -> None:
        self.float_names: list[list[str]] = []  # output row -> the signal names it holds
        self.int_names: list[list[str]] = []

        def column(names: list[list[str]], *signal_names: str) -> int:
            names.append(list(signal_names))
            return len(names) - 1

        quote_col = np.full(len(QUOTE_KINDS), -1, np.int64)
        for q, kind in enumerate(QUOTE_KINDS):
            sigs = spec.of_kind(kind)
            if sigs:
                quote_col[q] = column(self.float_names, *(s.name for s in sigs))
        ofi = spec.of_kind("ofi")
        ofi_col = column(self.int_names, *(s.name for s in ofi)) if ofi else -1
        ema = spec.of_kind("ema_mid")
        ema_col = np.array([column(self.float_names, s.name) for s in ema], np.int64)
        win = spec.of_kind("ofi_sum", "realized_variance")
        window_col = np.array([column(self.float_names if s.kind == "realized_variance" else self.int_names,
                                      s.name) for s in win], np.int64)
        trade = spec.of_kind("trade_vwap", "trade_imbalance") if trades is not None else []
        trade_col = np.array([column(self.float_names, s.name) for s in trade], np.int64)
        depth_sigs = spec.of_kind("depth_imbalance") if depth is not None else []
        depth_weights = np.zeros((len(depth_sigs), max([len(s.weights) for s in depth_sigs], default=1)))
        for j, s in enumerate(depth_sigs):
            depth_weights[j, :len(s.weights)] = s.weights
        depth_levels = np.array([min(len(s.weights), depth.bid_size.shape[1]) for s in depth_sigs], np.int64)
        depth_col = np.array([column(self.float_names, s.name) for s in depth_sigs], np.int64)
        self.signals = _Signals(
            quote_col, ofi_col,
            np.array([float(s.half_life_ns) for s in ema], np.float64), ema_col,
            np.array([s.window_ns for s in win], np.int64),
            np.array([s.kind == "realized_variance" for s in win], np.bool_), window_col,
            np.array([s.window_ns for s in trade], np.int64),
            np.array([s.kind == "trade_vwap" for s in trade], np.bool_), trade_col,
            depth_weights, depth_levels, depth_col)

    def new_state(self, locates: int, rows: int) -> _State:
        """Empty state for stock locates 0..locates-1 and `rows` quote rows.

        All of a symbol's state is one row of one buffer, so that a quote row's update touches
        a few neighbouring cache lines; each family is a strided record view of its part of it.
        """
        sig = self.signals
        families = ((SYMBOL_STATE, 1), (TRADE_WINDOW_STATE, len(sig.trade_col)), (EMA_STATE, len(sig.ema_col)),
                    (ROW_WINDOW_STATE, len(sig.window_col)), (np.dtype(np.float64), len(sig.depth_col)))
        # At least two rows and one slot per family, so that no view is contiguous: every spec then
        # gives the kernel arrays of the same types, and Numba compiles it once.
        widths = [dtype.itemsize * max(1, count) for dtype, count in families]
        buffer = np.zeros((max(2, locates), sum(widths) // 8)).view(np.uint8)
        views, start = [], 0
        for (dtype, _), width in zip(families, widths):
            views.append(buffer[:, start:start + width].view(dtype))
            start += width
        symbols, trade_windows, emas, row_windows, depth_imbalance = views
        depth_imbalance[:] = np.nan
        windowed = rows if len(sig.window_col) else 0  # per-row terms are kept for the windows only
        return _State(symbols[:, 0], row_windows, trade_windows, emas, depth_imbalance,
                      np.zeros(len(sig.window_col), np.int64), np.zeros(len(sig.trade_col), np.int64),
                      np.empty(windowed, np.int64), np.empty(windowed))


def _columns(table: Quotes | Trades | Depth, named: type) -> tuple:
    """An input table's columns as the named tuple the kernel takes."""
    return named(*(getattr(table, name) for name in named._fields))


def compute_cpu(q: Quotes, spec: SignalSpec, depth: Depth | None, trades: Trades | None,
                chunk_rows: int) -> dict[str, np.ndarray]:
    """All signals of `spec` for `q`, in sequential passes of `chunk_rows` rows with carried state."""
    n = len(q)
    plan = _Plan(spec, trades, depth)
    if not len(plan.signals.trade_col):
        trades = None
    if not len(plan.signals.depth_col):
        depth = None
    fout = np.empty((len(plan.float_names), n))
    iout = np.empty((len(plan.int_names), n), np.int64)
    # State rows for the locates present only: 65536 rows of state would cost more to clear than
    # a small feed costs to compute.
    locates = 1 + max([int(t.locate.max()) for t in (q, depth, trades) if t is not None and len(t)], default=0)
    state = plan.new_state(locates, n)
    if trades is None:
        none = np.zeros(0, np.int64)
        trades = Trades(none, none, np.zeros(0, np.int32), none, none, none)
    if depth is None:
        none = np.zeros((0, 1), np.int64)
        depth = Depth(np.zeros(0, np.int64), np.zeros(0, np.int32), none, none, none, none)
    quotes = _columns(q, _QuoteColumns)
    trade_columns, depth_columns = _columns(trades, _TradeColumns), _columns(depth, _DepthColumns)
    next_trade = next_depth = 0
    step = max(1, chunk_rows)
    for r0 in range(0, n, step):
        next_trade, next_depth = _pass(r0, min(n, r0 + step), next_trade, next_depth, quotes, trade_columns,
                                       depth_columns, plan.signals, state, fout, iout)
    out: dict[str, np.ndarray] = {}
    for rows, names in ((fout, plan.float_names), (iout, plan.int_names)):
        for c, signal_names in enumerate(names):
            for name in signal_names:
                out[name] = rows[c]
    return out
