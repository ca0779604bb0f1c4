"""The `cpu` backend: every signal in one sequential Numba pass over the rows in feed order.

No sort and no binary search. Per-symbol state lives in arrays indexed by
stock_locate, one row of state per symbol, so a row's update touches a few
cache lines:

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

import numpy as np
from numba import njit

from tickaccel.kernels.columns import Depth, Quotes, Trades
from tickaccel.kernels.spec import QUOTE_KINDS, SignalSpec

LN2 = math.log(2.0)
EMA_MIN_WEIGHT = 2.0 ** -900
EMPTY_ASK = 1 << 32

# Per-symbol int64 state: whether the symbol has had a row, that row's sides and timestamp;
# then per row window its ofi sum and row count, per trade window its numerator and denominator.
SEEN, PREV_BID, PREV_ASK, PREV_BSZ, PREV_ASZ, LAST_TS = range(6)
INT_FIXED = 6
ROW_WINDOW_INTS, TRADE_WINDOW_INTS = 2, 2
# Per-symbol float64 state: bid + ask of the last row with both sides, and whether there was one.
LAST_S, HAS_S = range(2)
FLOAT_FIXED = 2  # then per EMA: y, w; per row window: sum hi, lo; per depth signal: latest value


@njit(cache=True)
def _ofi(bid, ask, bsz, asz, pbid, pask, pbsz, pasz):
    bq = bsz if bid > 0 else 0
    ap = ask if ask > 0 else EMPTY_ASK
    aq = asz if ask > 0 else 0
    pbq = pbsz if pbid > 0 else 0
    pap = pask if pask > 0 else EMPTY_ASK
    paq = pasz if pask > 0 else 0
    e = 0
    if bid >= pbid:
        e += bq
    if bid <= pbid:
        e -= pbq
    if ap <= pap:
        e -= aq
    if ap >= pap:
        e += paq
    return e


@njit(cache=True)
def _dd_add(hi, lo, x):
    """Double-double (hi + lo) + x, normalized (Knuth's TwoSum)."""
    s = hi + x
    v = s - hi
    e = (hi - (s - v)) + (x - v) + lo
    h = s + e
    return h, e - (h - s)


SMALL = 2.0 ** -7  # below it, a few series terms are as exact as libm's log1p / expm1


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


@njit(cache=True)
def _pass(r0, r1, seq, ts, loc, bid, ask, bsz, asz,
          tseq, tts, tloc, tprice, tshares, tsign,
          dseq, dloc, dbid_price, dask_price, dbid_size, dask_size, depth_weights, depth_levels,
          cursors, istate, fstate, row_ofi, row_r2,
          quote_col, ofi_col, ema_half_life, ema_col, win_ns, win_is_rv, win_col,
          trade_ns, trade_is_vwap, trade_col, depth_col, fout, iout):
    n_ema, n_win, n_trade, n_depth = len(ema_col), len(win_col), len(trade_col), len(depth_col)
    ema_base = FLOAT_FIXED
    win_fbase = ema_base + 2 * n_ema
    depth_base = win_fbase + 2 * n_win
    trade_base = INT_FIXED + ROW_WINDOW_INTS * n_win
    has_rv = False
    has_ofi_window = False
    for j in range(n_win):
        has_rv = has_rv or win_is_rv[j]
        has_ofi_window = has_ofi_window or not win_is_rv[j]
    need_ofi = ofi_col >= 0 or has_ofi_window
    mid_col, spread_col, bps_col, micro_col, imb_col = quote_col[0], quote_col[1], quote_col[2], \
        quote_col[3], quote_col[4]
    k, d = cursors[0], cursors[1]
    for i in range(r0, r1):
        s = loc[i]
        t = ts[i]
        b, a = np.int64(bid[i]), np.int64(ask[i])
        qb, qa = bsz[i], asz[i]
        both = b > 0 and a > 0
        fb, fa, fqb, fqa = float(b), float(a), float(qb), float(qa)

        # Row-local quote signals.
        sized = both and fqb + fqa > 0
        if mid_col >= 0:
            fout[mid_col, i] = (fb + fa) / 20000.0 if both else np.nan
        if spread_col >= 0:
            fout[spread_col, i] = (fa - fb) / 10000.0 if both else np.nan
        if bps_col >= 0:
            fout[bps_col, i] = 20000.0 * (fa - fb) / (fb + fa) if both else np.nan
        if micro_col >= 0:
            fout[micro_col, i] = (fb * fqa + fa * fqb) / (fqb + fqa) / 10000.0 if sized else np.nan
        if imb_col >= 0:
            fout[imb_col, i] = (fqb - fqa) / (fqb + fqa) if sized else np.nan

        # Depth rows up to this row's seq: each sets its symbol's latest imbalance.
        while d < len(dseq) and dseq[d] <= seq[i]:
            for j in range(n_depth):
                num = 0.0
                den = 0.0
                for lvl in range(depth_levels[j]):
                    bs = float(dbid_size[d, lvl]) if dbid_price[d, lvl] > 0 else 0.0
                    aS = float(dask_size[d, lvl]) if dask_price[d, lvl] > 0 else 0.0
                    num = num + depth_weights[j, lvl] * (bs - aS)
                    den = den + depth_weights[j, lvl] * (bs + aS)
                ok = dbid_price[d, 0] > 0 and dask_price[d, 0] > 0 and den > 0
                fstate[dloc[d], depth_base + j] = num / den if ok else np.nan
            d += 1
        for j in range(n_depth):
            fout[depth_col[j], i] = fstate[s, depth_base + j]

        # Trades up to this row's seq enter their symbol's window sums; trades at or before
        # t - W leave them. Times never decrease, so what has left has left for every later
        # row: one cursor per window walks the trades in order, no per-symbol lists.
        while k < len(tseq) and tseq[k] <= seq[i]:
            for j in range(n_trade):
                c = trade_base + TRADE_WINDOW_INTS * j
                if trade_is_vwap[j]:
                    istate[tloc[k], c] += tprice[k] * tshares[k]
                    istate[tloc[k], c + 1] += tshares[k]
                else:
                    istate[tloc[k], c] += tsign[k] * tshares[k]
                    istate[tloc[k], c + 1] += abs(tsign[k]) * tshares[k]
            k += 1
        for j in range(n_trade):
            c = trade_base + TRADE_WINDOW_INTS * j
            cut = t - trade_ns[j]
            g = cursors[2 + n_win + j]
            while g < k and tts[g] <= cut:
                if trade_is_vwap[j]:
                    istate[tloc[g], c] -= tprice[g] * tshares[g]
                    istate[tloc[g], c + 1] -= tshares[g]
                else:
                    istate[tloc[g], c] -= tsign[g] * tshares[g]
                    istate[tloc[g], c + 1] -= abs(tsign[g]) * tshares[g]
                g += 1
            cursors[2 + n_win + j] = g
            den = istate[s, c + 1]
            if den > 0:
                scale = 10000.0 if trade_is_vwap[j] else 1.0
                fout[trade_col[j], i] = float(istate[s, c]) / float(den) / scale
            else:
                fout[trade_col[j], i] = np.nan

        # Recurrences against the symbol's previous row.
        seen = istate[s, SEEN] != 0
        e = 0
        if seen and need_ofi:
            e = _ofi(b, a, qb, qa, istate[s, PREV_BID], istate[s, PREV_ASK],
                     istate[s, PREV_BSZ], istate[s, PREV_ASZ])
        if ofi_col >= 0:
            iout[ofi_col, i] = e
        dt = t - istate[s, LAST_TS]
        istate[s, SEEN] = 1
        istate[s, PREV_BID] = b
        istate[s, PREV_ASK] = a
        istate[s, PREV_BSZ] = qb
        istate[s, PREV_ASZ] = qa
        istate[s, LAST_TS] = t

        r2 = 0.0
        if has_rv and both:
            total = fb + fa
            if fstate[s, HAS_S] > 0.0:
                before = fstate[s, LAST_S]
                if total != before:
                    r = _log1p((total - before) / before)
                    r2 = r * r
            fstate[s, LAST_S] = total
            fstate[s, HAS_S] = 1.0
        if n_win:
            row_ofi[i] = e
            row_r2[i] = r2

        value = (fb + fa) / 20000.0 if both else 0.0
        weight = 1.0 if both else 0.0
        for j in range(n_ema):
            c = ema_base + 2 * j
            if not seen:
                y, w = value, weight
            elif dt == 0:  # decay 1, gain 0
                y, w = fstate[s, c], fstate[s, c + 1]
            else:
                decay, gain = _decay_gain(float(dt) / ema_half_life[j] * LN2)
                y = decay * fstate[s, c] + gain * value
                w = decay * fstate[s, c + 1] + gain * weight
            fstate[s, c] = y
            fstate[s, c + 1] = w
            fout[ema_col[j], i] = y / w if w >= EMA_MIN_WEIGHT else np.nan

        # Trailing windows over the symbol's rows: this row enters, rows at or before t - W
        # leave (a cursor per window over all rows, as for trades; it stops at i at the latest).
        for j in range(n_win):
            c = INT_FIXED + ROW_WINDOW_INTS * j
            f = win_fbase + 2 * j
            cut = t - win_ns[j]
            g = cursors[2 + j]
            istate[s, c + 1] += 1
            if win_is_rv[j]:
                fstate[s, f], fstate[s, f + 1] = _dd_add(fstate[s, f], fstate[s, f + 1], r2)
                while ts[g] <= cut:
                    gs = loc[g]
                    istate[gs, c + 1] -= 1
                    if istate[gs, c + 1] == 0:  # empty: exactly zero, whatever rounding was left
                        fstate[gs, f], fstate[gs, f + 1] = 0.0, 0.0
                    else:
                        fstate[gs, f], fstate[gs, f + 1] = _dd_add(fstate[gs, f], fstate[gs, f + 1], -row_r2[g])
                    g += 1
                if istate[s, c + 1] == 1:  # only this row: its term, exactly
                    fstate[s, f], fstate[s, f + 1] = r2, 0.0
                fout[win_col[j], i] = fstate[s, f] + fstate[s, f + 1]
            else:
                istate[s, c] += e
                while ts[g] <= cut:
                    istate[loc[g], c] -= row_ofi[g]
                    istate[loc[g], c + 1] -= 1
                    g += 1
                iout[win_col[j], i] = istate[s, c]
            cursors[2 + j] = g
    cursors[0], cursors[1] = k, d


class _Plan:
    """Where each signal's state and output column live, from the spec."""

    def __init__(self, spec: SignalSpec, has_trades: bool, has_depth: bool) -> None:
        self.float_names: list[list[str]] = []  # output row -> the signal names it holds
        self.int_names: list[list[str]] = []

        def column(names: list[list[str]], *signal_names: str) -> int:
            names.append(list(signal_names))
            return len(names) - 1

        self.quote_col = np.full(len(QUOTE_KINDS), -1, np.int64)
        for q, kind in enumerate(QUOTE_KINDS):
            sigs = spec.of_kind(kind)
            if sigs:
                self.quote_col[q] = column(self.float_names, *(s.name for s in sigs))
        ofi = spec.of_kind("ofi")
        self.ofi_col = column(self.int_names, *(s.name for s in ofi)) if ofi else -1
        ema = spec.of_kind("ema_mid")
        self.ema_half_life = np.array([float(s.half_life_ns) for s in ema], np.float64)
        self.ema_col = np.array([column(self.float_names, s.name) for s in ema], np.int64)
        win = spec.of_kind("ofi_sum", "realized_variance")
        self.win_ns = np.array([s.window_ns for s in win], np.int64)
        self.win_is_rv = np.array([s.kind == "realized_variance" for s in win], np.bool_)
        self.win_col = np.array([column(self.float_names if s.kind == "realized_variance" else self.int_names,
                                        s.name) for s in win], np.int64)
        trade = spec.of_kind("trade_vwap", "trade_imbalance") if has_trades else []
        self.trade_ns = np.array([s.window_ns for s in trade], np.int64)
        self.trade_is_vwap = np.array([s.kind == "trade_vwap" for s in trade], np.bool_)
        self.trade_col = np.array([column(self.float_names, s.name) for s in trade], np.int64)
        depth = spec.of_kind("depth_imbalance") if has_depth else []
        self.depth_weights = np.zeros((len(depth), max([len(s.weights) for s in depth], default=1)))
        for j, s in enumerate(depth):
            self.depth_weights[j, :len(s.weights)] = s.weights
        self.depth_weight_counts = np.array([len(s.weights) for s in depth], np.int64)
        self.depth_col = np.array([column(self.float_names, s.name) for s in depth], np.int64)
        self.int_state = INT_FIXED + ROW_WINDOW_INTS * len(win) + TRADE_WINDOW_INTS * len(trade)
        self.float_state = FLOAT_FIXED + 2 * len(ema) + 2 * len(win) + len(depth)
        self.depth_state = FLOAT_FIXED + 2 * len(ema) + 2 * len(win)


def compute_cpu(q: Quotes, spec: SignalSpec, depth: Depth | None, trades: Trades | None,
                chunk_rows: int) -> dict[str, np.ndarray]:
    """All signals of `spec` for `q`, in sequential passes of `chunk_rows` rows with carried state."""
    n = len(q)
    plan = _Plan(spec, trades is not None, depth is not None)
    if not len(plan.trade_col):
        trades = None
    if not len(plan.depth_col):
        depth = None
    fout = np.empty((len(plan.float_names), n))
    iout = np.empty((len(plan.int_names), n), np.int64)
    # State rows for the locates present only: 65536 rows of state would cost more to clear than
    # a small feed costs to compute.
    locates = 1 + max([int(t.locate.max()) for t in (q, depth, trades) if t is not None and len(t)], default=0)
    istate = np.zeros((locates, plan.int_state), np.int64)
    fstate = np.zeros((locates, plan.float_state))
    fstate[:, plan.depth_state:] = np.nan
    windowed = n if len(plan.win_col) else 0  # per-row terms are kept for the windows only
    row_ofi = np.empty(windowed, np.int64)
    row_r2 = np.empty(windowed)

    if trades is None:
        none = np.zeros(0, np.int64)
        trades = Trades(none, none, np.zeros(0, np.int32), none, none, none)
    if depth is None:
        none = np.zeros((0, 1), np.int64)
        depth = Depth(np.zeros(0, np.int64), np.zeros(0, np.int32), none, none, none, none)
    levels = np.minimum(plan.depth_weight_counts, depth.bid_size.shape[1])
    # trade and depth merge positions, then one expiry cursor per row window and per trade window
    cursors = np.zeros(2 + len(plan.win_col) + len(plan.trade_col), np.int64)
    step = max(1, chunk_rows)
    for r0 in range(0, n, step):
        _pass(r0, min(n, r0 + step), q.seq, q.ts, q.locate, q.bid, q.ask, q.bid_size, q.ask_size,
              trades.seq, trades.ts, trades.locate, trades.price, trades.shares, trades.sign,
              depth.seq, depth.locate, depth.bid_price, depth.ask_price, depth.bid_size, depth.ask_size,
              plan.depth_weights, levels, cursors, istate, fstate, row_ofi, row_r2,
              plan.quote_col, plan.ofi_col, plan.ema_half_life, plan.ema_col, plan.win_ns,
              plan.win_is_rv, plan.win_col, plan.trade_ns, plan.trade_is_vwap, plan.trade_col,
              plan.depth_col, fout, iout)
    out: dict[str, np.ndarray] = {}
    for rows, names in ((fout, plan.float_names), (iout, plan.int_names)):
        for c, signal_names in enumerate(names):
            for name in signal_names:
                out[name] = rows[c]
    return out
