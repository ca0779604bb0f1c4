"""The `numba-cuda` backend: the device kernels written in Python for `numba.cuda`.

On a GPU the arrays are CuPy arrays when CuPy is present (zero-copy through
the CUDA array interface), else NumPy arrays that Numba moves per call. With
NUMBA_ENABLE_CUDASIM=1 the same kernels run on Numba's CUDA simulator, which
is how the CPU-only test suite checks them (in a subprocess, see the tests).
"""
from __future__ import annotations

import math
import os

import numpy as np
from numba import cuda, int64

from .device import DeviceKernels

BLOCK = 256
SIM_BLOCK = 32  # the simulator runs a thread per Python thread
LN2 = math.log(2.0)
EMA_MIN_WEIGHT = 2.0 ** -900
EMPTY_ASK = 1 << 32


def simulated() -> bool:
    return os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def on_real_gpu() -> bool:
    """True if numba.cuda sees a real CUDA device (not the simulator)."""
    if simulated():
        return False
    try:
        return cuda.is_available()
    except Exception:  # a broken driver counts as no GPU
        return False


def unavailable_reason() -> str | None:
    """None on a CUDA GPU or under the simulator, else why not."""
    if simulated() or on_real_gpu():
        return None
    return "numba sees no CUDA GPU (NUMBA_ENABLE_CUDASIM=1 runs these kernels on its simulator)"


@cuda.jit(device=True)
def ofi_term(bid, ask, bsz, asz, pbid, pask, pbsz, pasz):
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

@cuda.jit(device=True)
def is_head(G, n_h, locg, k):
    return k == 0 or G[k - 1] < n_h or locg[k - 1] != locg[k]

@cuda.jit(device=True)
def dd_add(h1, l1, h2, l2):
    s = h1 + h2
    v = s - h1
    e = (h1 - (s - v)) + (h2 - v) + (l1 + l2)
    hi = s + e
    return hi, e - (hi - s)

@cuda.jit
def quote(n, bid, ask, bsz, asz, mid, spread, bps, micro, imb, mask):
    i = cuda.grid(1)
    if i >= n:
        return
    b, a, qb, qa = float(bid[i]), float(ask[i]), float(bsz[i]), float(asz[i])
    both = bid[i] > 0 and ask[i] > 0
    sized = both and qb + qa > 0
    if mask & 1:
        mid[i] = (b + a) / 20000.0 if both else math.nan
    if mask & 2:
        spread[i] = (a - b) / 10000.0 if both else math.nan
    if mask & 4:
        bps[i] = 20000.0 * (a - b) / (b + a) if both else math.nan
    if mask & 8:
        micro[i] = (b * qa + a * qb) / (qb + qa) / 10000.0 if sized else math.nan
    if mask & 16:
        imb[i] = (qb - qa) / (qb + qa) if sized else math.nan

@cuda.jit
def terms(n, G, n_h, locg, bid, ask, bsz, asz, halo_ofi, pbid, pask, pbsz, pasz, has_prev,
          last_s, has_s, ofi, lva, lvb, lvc):
    k = cuda.grid(1)
    if k >= n:
        return
    i = G[k] - n_h
    if i < 0:
        ofi[k] = halo_ofi[G[k]]
        lva[k] = 0.0
        lvb[k] = 0.0
        lvc[k] = 0.0
        return
    s = locg[k]
    valid = bid[i] > 0 and ask[i] > 0
    total = float(bid[i]) + float(ask[i])
    if is_head(G, n_h, locg, k):
        if has_prev[s]:
            ofi[k] = ofi_term(int64(bid[i]), int64(ask[i]), bsz[i], asz[i],
                              pbid[s], pask[s], pbsz[s], pasz[s])
        else:
            ofi[k] = 0
        lva[k] = 0.0
        lvb[k] = total if valid else last_s[s]
        lvc[k] = 1.0 if valid else has_s[s]
    else:
        j = G[k - 1] - n_h
        ofi[k] = ofi_term(int64(bid[i]), int64(ask[i]), bsz[i], asz[i],
                          int64(bid[j]), int64(ask[j]), bsz[j], asz[j])
        lva[k] = 0.0 if valid else 1.0
        lvb[k] = total if valid else 0.0
        lvc[k] = 1.0 if valid else 0.0

@cuda.jit
def ema_elems(n, G, n_h, locg, ts, bid, ask, has_prev, last_ts, y, w, half_life, a, b, c):
    k = cuda.grid(1)
    if k >= n:
        return
    i = G[k] - n_h
    if i < 0:
        a[k] = 0.0
        b[k] = 0.0
        c[k] = 0.0
        return
    s = locg[k]
    valid = bid[i] > 0 and ask[i] > 0
    value = (float(bid[i]) + float(ask[i])) / 20000.0 if valid else 0.0
    weight = 1.0 if valid else 0.0
    if is_head(G, n_h, locg, k):
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

@cuda.jit
def ema_finish(n, b, c, out):
    k = cuda.grid(1)
    if k < n:
        out[k] = b[k] / c[k] if c[k] >= EMA_MIN_WEIGHT else math.nan

@cuda.jit
def rv_terms(n, G, n_h, locg, bid, ask, lvb, lvc, last_s, has_s, halo_r2, r2):
    k = cuda.grid(1)
    if k >= n:
        return
    i = G[k] - n_h
    if i < 0:
        r2[k] = halo_r2[G[k]]
        return
    if is_head(G, n_h, locg, k):
        before, seen = last_s[locg[k]], has_s[locg[k]]
    else:
        before, seen = lvb[k - 1], lvc[k - 1]
    if bid[i] > 0 and ask[i] > 0 and seen > 0.5:
        r = math.log1p(((float(bid[i]) + float(ask[i])) - before) / before)
        r2[k] = r * r
    else:
        r2[k] = 0.0

@cuda.jit
def window_dd(n, start, hi, lo, out):
    k = cuda.grid(1)
    if k >= n:
        return
    j = start[k] - 1
    if j < 0:
        out[k] = hi[k] + lo[k]
    else:
        h, e = dd_add(hi[k], lo[k], -hi[j], -lo[j])
        out[k] = h + e

@cuda.jit
def affine_reduce(n, tile, a, b, c, A, B, C):
    t = cuda.grid(1)
    k = t * tile
    if k >= n:
        return
    pa, pb, pc = 1.0, 0.0, 0.0
    for m in range(k, min(k + tile, n)):
        pa = a[m] * pa
        pb = a[m] * pb + b[m]
        pc = a[m] * pc + c[m]
    A[t], B[t], C[t] = pa, pb, pc

@cuda.jit
def affine_apply(n, tile, a, b, c, B, C):
    t = cuda.grid(1)
    k = t * tile
    if k >= n:
        return
    pb = B[t - 1] if t > 0 else 0.0
    pc = C[t - 1] if t > 0 else 0.0
    for m in range(k, min(k + tile, n)):
        pb = a[m] * pb + b[m]
        pc = a[m] * pc + c[m]
        b[m] = pb
        c[m] = pc

@cuda.jit
def dd_reduce(n, tile, hi, lo, H, L):
    t = cuda.grid(1)
    k = t * tile
    if k >= n:
        return
    h, l = 0.0, 0.0
    for m in range(k, min(k + tile, n)):
        h, l = dd_add(h, l, hi[m], lo[m])
    H[t], L[t] = h, l

@cuda.jit
def dd_apply(n, tile, hi, lo, H, L):
    t = cuda.grid(1)
    k = t * tile
    if k >= n:
        return
    h = H[t - 1] if t > 0 else 0.0
    l = L[t - 1] if t > 0 else 0.0
    for m in range(k, min(k + tile, n)):
        h, l = dd_add(h, l, hi[m], lo[m])
        hi[m] = h
        lo[m] = l

KERNELS = dict(quote=quote, terms=terms, ema_elems=ema_elems, ema_finish=ema_finish,
               rv_terms=rv_terms, window_dd=window_dd, affine_reduce=affine_reduce,
               affine_apply=affine_apply, dd_reduce=dd_reduce, dd_apply=dd_apply)


class NumbaCudaKernels(DeviceKernels):
    """Numba CUDA kernels; CuPy arrays on a real GPU with CuPy, NumPy arrays otherwise."""

    name = "numba-cuda"

    def __init__(self) -> None:
        from .cuda_cupy import unavailable_reason as cupy_missing

        self._block = SIM_BLOCK if simulated() else BLOCK
        self.scan_tile = 4 if simulated() else 16
        if not simulated() and cupy_missing() is None:
            import cupy

            self.xp = cupy
        self._kernels = KERNELS

    def asarray(self, host: np.ndarray):
        # Numba copies every NumPy argument back after a kernel: it must be writable.
        return self.xp.asarray(host) if self.xp is not np else np.array(host)

    def to_host(self, array) -> np.ndarray:
        return array.get() if hasattr(array, "get") else np.asarray(array)

    def launch(self, kernel: str, items: int, *args) -> None:
        if items:
            self._kernels[kernel][(items + self._block - 1) // self._block, self._block](*args)
