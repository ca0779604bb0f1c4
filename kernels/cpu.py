"""The `cpu` backend: the pipeline's kernels compiled with Numba for the host CPU.

Element-wise kernels run in parallel (`prange` over rows); the scans run one
pass in order, which on a CPU is as fast as memory allows.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .pipeline import SymbolState

LN2 = math.log(2.0)
EMA_MIN_WEIGHT = 2.0 ** -900
EMPTY_ASK = 1 << 32


@njit(cache=True, parallel=True)
def _quote(bid, ask, bsz, asz, mid, spread, bps, micro, imb, mask):
    for i in prange(len(bid)):
        b, a = float(bid[i]), float(ask[i])
        qb, qa = float(bsz[i]), float(asz[i])
        both = bid[i] > 0 and ask[i] > 0
        sized = both and qb + qa > 0
        if mask & 1:
            mid[i] = (b + a) / 20000.0 if both else np.nan
        if mask & 2:
            spread[i] = (a - b) / 10000.0 if both else np.nan
        if mask & 4:
            bps[i] = 20000.0 * (a - b) / (b + a) if both else np.nan
        if mask & 8:
            micro[i] = (b * qa + a * qb) / (qb + qa) / 10000.0 if sized else np.nan
        if mask & 16:
            imb[i] = (qb - qa) / (qb + qa) if sized else np.nan


@njit(cache=True)
def _ofi(bid, ask, bsz, asz, pbid, pask, pbsz, pasz):
    bq = bsz if bid > 0 else 0
    ap = np.int64(ask) if ask > 0 else EMPTY_ASK
    aq = asz if ask > 0 else 0
    pbq = pbsz if pbid > 0 else 0
    pap = np.int64(pask) if pask > 0 else EMPTY_ASK
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
def _is_head(G, n_h, locg, k):
    return k == 0 or G[k - 1] < n_h or locg[k - 1] != locg[k]


@njit(cache=True, parallel=True)
def _terms(G, n_h, locg, bid, ask, bsz, asz, halo_ofi, pbid, pask, pbsz, pasz, has_prev,
           last_s, has_s, ofi, lva, lvb, lvc):
    for k in prange(len(G)):
        i = G[k] - n_h
        if i < 0:
            ofi[k] = halo_ofi[G[k]]
            lva[k] = 0.0
            lvb[k] = 0.0
            lvc[k] = 0.0
            continue
        s = locg[k]
        valid = bid[i] > 0 and ask[i] > 0
        total = float(bid[i]) + float(ask[i])
        if _is_head(G, n_h, locg, k):
            ofi[k] = _ofi(bid[i], ask[i], bsz[i], asz[i], pbid[s], pask[s], pbsz[s], pasz[s]) \
                if has_prev[s] else 0
            lva[k] = 0.0
            lvb[k] = total if valid else last_s[s]
            lvc[k] = 1.0 if valid else has_s[s]
        else:
            j = G[k - 1] - n_h
            ofi[k] = _ofi(bid[i], ask[i], bsz[i], asz[i], bid[j], ask[j], bsz[j], asz[j])
            lva[k] = 0.0 if valid else 1.0
            lvb[k] = total if valid else 0.0
            lvc[k] = 1.0 if valid else 0.0


@njit(cache=True, parallel=True)
def _ema_elems(G, n_h, locg, ts, bid, ask, has_prev, last_ts, y, w, half_life, a, b, c):
    for k in prange(len(G)):
        i = G[k] - n_h
        if i < 0:
            a[k] = 0.0
            b[k] = 0.0
            c[k] = 0.0
            continue
        s = locg[k]
        valid = bid[i] > 0 and ask[i] > 0
        value = (float(bid[i]) + float(ask[i])) / 20000.0 if valid else 0.0
        weight = 1.0 if valid else 0.0
        if _is_head(G, n_h, locg, k):
            if has_prev[s]:
                x = float(ts[i] - last_ts[s]) / half_life * LN2
                decay, gain = math.exp(-x), -math.expm1(-x)
                b[k] = decay * y[s] + gain * value
                c[k] = decay * w[s] + gain * weight
            else:
                b[k] = value
                c[k] = weight
            a[k] = 0.0
        else:
            x = float(ts[i] - ts[G[k - 1] - n_h]) / half_life * LN2
            decay, gain = math.exp(-x), -math.expm1(-x)
            a[k] = decay
            b[k] = gain * value
            c[k] = gain * weight


@njit(cache=True)
def _scan_affine(a, b, c):
    for k in range(1, len(a)):
        b[k] = a[k] * b[k - 1] + b[k]
        c[k] = a[k] * c[k - 1] + c[k]


@njit(cache=True, parallel=True)
def _ema_finish(b, c, out):
    for k in prange(len(b)):
        out[k] = b[k] / c[k] if c[k] >= EMA_MIN_WEIGHT else np.nan


@njit(cache=True, parallel=True)
def _rv_terms(G, n_h, locg, bid, ask, lvb, lvc, last_s, has_s, halo_r2, r2):
    for k in prange(len(G)):
        i = G[k] - n_h
        if i < 0:
            r2[k] = halo_r2[G[k]]
            continue
        if _is_head(G, n_h, locg, k):
            before, seen = last_s[locg[k]], has_s[locg[k]]
        else:
            before, seen = lvb[k - 1], lvc[k - 1]
        if bid[i] > 0 and ask[i] > 0 and seen > 0.5:
            r = math.log1p(((float(bid[i]) + float(ask[i])) - before) / before)
            r2[k] = r * r
        else:
            r2[k] = 0.0


@njit(cache=True)
def two_sum(x, y):
    s = x + y
    v = s - x
    return s, (x - (s - v)) + (y - v)


@njit(cache=True)
def dd_add(h1, l1, h2, l2):
    """Double-double sum (h1 + l1) + (h2 + l2), normalized."""
    s, e = two_sum(h1, h2)
    e += l1 + l2
    hi = s + e
    return hi, e - (hi - s)


@njit(cache=True)
def _scan_dd(hi, lo):
    for k in range(1, len(hi)):
        hi[k], lo[k] = dd_add(hi[k - 1], lo[k - 1], hi[k], lo[k])


@njit(cache=True, parallel=True)
def _window_dd(start, hi, lo, out):
    for k in prange(len(start)):
        j = start[k] - 1
        if j < 0:
            out[k] = hi[k] + lo[k]
        else:
            h, e = dd_add(hi[k], lo[k], -hi[j], -lo[j])
            out[k] = h + e


class CpuKernels:
    """Numba kernels on host NumPy arrays."""

    name = "cpu"
    xp = np

    def asarray(self, host: np.ndarray) -> np.ndarray:
        return host

    def to_host(self, array: np.ndarray) -> np.ndarray:
        return array

    def quote(self, bid, ask, bsz, asz, outs: list) -> None:
        mask = sum(1 << i for i, o in enumerate(outs) if o is not None)
        dummy = np.empty(1)
        _quote(bid, ask, bsz, asz, *[dummy if o is None else o for o in outs], mask)

    def terms(self, G, n_h, locg, bid, ask, bsz, asz, halo_ofi, st: SymbolState):
        n = len(G)
        ofi, lva, lvb, lvc = np.empty(n, np.int64), np.empty(n), np.empty(n), np.empty(n)
        _terms(G, n_h, locg, bid, ask, bsz, asz, halo_ofi, st.prev_bid, st.prev_ask, st.prev_bsz,
               st.prev_asz, st.has_prev, st.last_s, st.has_s, ofi, lva, lvb, lvc)
        return ofi, lva, lvb, lvc

    def ema_elems(self, G, n_h, locg, ts, bid, ask, st: SymbolState, y, w, half_life_ns):
        n = len(G)
        a, b, c = np.empty(n), np.empty(n), np.empty(n)
        _ema_elems(G, n_h, locg, ts, bid, ask, st.has_prev, st.last_ts, y, w,
                   float(half_life_ns), a, b, c)
        return a, b, c

    def scan_affine(self, a, b, c) -> None:
        _scan_affine(a, b, c)

    def ema_finish(self, b, c):
        out = np.empty(len(b))
        _ema_finish(b, c, out)
        return out

    def rv_terms(self, G, n_h, locg, bid, ask, lvb, lvc, st: SymbolState, halo_r2):
        r2 = np.empty(len(G))
        _rv_terms(G, n_h, locg, bid, ask, lvb, lvc, st.last_s, st.has_s, halo_r2, r2)
        return r2

    def scan_dd(self, hi, lo) -> None:
        _scan_dd(hi, lo)

    def window_dd(self, start, hi, lo):
        out = np.empty(len(start))
        _window_dd(start, hi, lo, out)
        return out
