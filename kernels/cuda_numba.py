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
from numba import cuda, float64, int64

from tickaccel.kernels import terms
from tickaccel.kernels.device import DeviceKernels
from tickaccel.kernels.reference import EMA_MIN_WEIGHT, LN2
from tickaccel.kernels.device_source import SCAN_BLOCK as GPU_SCAN_BLOCK, SCAN_ITEMS as GPU_SCAN_ITEMS
from tickaccel.schema.units import BASIS_POINTS, PRICE_SCALE


def simulated() -> bool:
    return os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


# Shared-array sizes are compile-time constants; the simulator runs a Python thread per
# GPU thread, so it gets small groups.
SCAN_BLOCK, SCAN_ITEMS = (16, 3) if simulated() else (GPU_SCAN_BLOCK, GPU_SCAN_ITEMS)
SCAN_TILE = SCAN_BLOCK * SCAN_ITEMS


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


ofi_term = cuda.jit(device=True)(terms.ofi_term)


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

@cuda.jit(device=True)
def is_last(n, locg, k):
    return k == n - 1 or locg[k + 1] != locg[k]

@cuda.jit
def rows(n, G, n_h, locg, bid, ask, bsz, asz, halo_ofi, pbid, pask, pbsz, pasz, has_prev,
         mid, spread, bps, micro, imb, ofi, ofi_g, mask):
    k = cuda.grid(1)
    if k >= n:
        return
    i = G[k] - n_h
    if i < 0:
        if mask & 64:
            ofi_g[k] = halo_ofi[G[k]]
        return
    ub, ua, sb, sa = int64(bid[i]), int64(ask[i]), bsz[i], asz[i]
    b, a, qb, qa = float(ub), float(ua), float(sb), float(sa)
    both = ub > 0 and ua > 0
    sized = both and qb + qa > 0
    if mask & 1:
        mid[i] = (b + a) / (2 * PRICE_SCALE) if both else math.nan
    if mask & 2:
        spread[i] = (a - b) / PRICE_SCALE if both else math.nan
    if mask & 4:
        bps[i] = 2.0 * BASIS_POINTS * (a - b) / (b + a) if both else math.nan
    if mask & 8:
        micro[i] = (b * qa + a * qb) / (qb + qa) / PRICE_SCALE if sized else math.nan
    if mask & 16:
        imb[i] = (qb - qa) / (qb + qa) if sized else math.nan
    if mask & 96:
        if is_head(G, n_h, locg, k):
            s = locg[k]
            e = ofi_term(ub, ua, sb, sa, pbid[s], pask[s], pbsz[s], pasz[s]) if has_prev[s] else 0
        else:
            j = G[k - 1] - n_h
            e = ofi_term(ub, ua, sb, sa, int64(bid[j]), int64(ask[j]), bsz[j], asz[j])
        if mask & 32:
            ofi[i] = e
        if mask & 64:
            ofi_g[k] = e

# Tile scans: the same scheme as device_source (see its comment), one group per tile.

@cuda.jit(device=True)
def tile_row(p):
    return cuda.blockIdx.x * SCAN_TILE + p

@cuda.jit(device=True)
def affine_items_scan(sa, sb, sc, ta, tb, tc):
    t = cuda.threadIdx.x
    first = t * SCAN_ITEMS
    cuda.syncthreads()
    pa, pb, pc = 1.0, 0.0, 0.0
    for m in range(SCAN_ITEMS):
        a = sa[first + m]
        pb = a * pb + sb[first + m]
        pc = a * pc + sc[first + m]
        pa = a * pa
    d = 1
    while d < SCAN_BLOCK:
        ta[t], tb[t], tc[t] = pa, pb, pc
        cuda.syncthreads()
        if t >= d:
            qa, qb, qc = ta[t - d], tb[t - d], tc[t - d]
            pb = pa * qb + pb
            pc = pa * qc + pc
            pa = pa * qa
        cuda.syncthreads()
        d *= 2
    ta[t], tb[t], tc[t] = pa, pb, pc
    cuda.syncthreads()

@cuda.jit(device=True)
def affine_tile_scan(sa, sb, sc, ta, tb, tc, yb, yc):
    affine_items_scan(sa, sb, sc, ta, tb, tc)
    t = cuda.threadIdx.x
    first = t * SCAN_ITEMS
    vb = ta[t - 1] * yb + tb[t - 1] if t > 0 else yb
    vc = ta[t - 1] * yc + tc[t - 1] if t > 0 else yc
    for m in range(SCAN_ITEMS):
        a = sa[first + m]
        vb = a * vb + sb[first + m]
        vc = a * vc + sc[first + m]
        sb[first + m] = vb
        sc[first + m] = vc
    cuda.syncthreads()

@cuda.jit(device=True)
def store_aggregate(ta, tb, tc, A, B, C):
    t = cuda.threadIdx.x
    if t == SCAN_BLOCK - 1:
        g = cuda.blockIdx.x
        A[g], B[g], C[g] = ta[t], tb[t], tc[t]

@cuda.jit(device=True)
def carry(X):
    g = cuda.blockIdx.x
    return X[g - 1] if g > 0 else 0.0

@cuda.jit(device=True)
def load_affine(n, a, b, c, sa, sb, sc):
    for p in range(cuda.threadIdx.x, SCAN_TILE, SCAN_BLOCK):
        k = tile_row(p)
        sa[p] = a[k] if k < n else 1.0
        sb[p] = b[k] if k < n else 0.0
        sc[p] = c[k] if k < n else 0.0

@cuda.jit
def affine_reduce(n, a, b, c, A, B, C):
    sa = cuda.shared.array(SCAN_TILE, float64)  # one per line: the simulator tells them apart by line
    sb = cuda.shared.array(SCAN_TILE, float64)
    sc = cuda.shared.array(SCAN_TILE, float64)
    ta = cuda.shared.array(SCAN_BLOCK, float64)
    tb = cuda.shared.array(SCAN_BLOCK, float64)
    tc = cuda.shared.array(SCAN_BLOCK, float64)
    load_affine(n, a, b, c, sa, sb, sc)
    affine_items_scan(sa, sb, sc, ta, tb, tc)
    store_aggregate(ta, tb, tc, A, B, C)

@cuda.jit
def affine_apply(n, a, b, c, B, C):
    sa = cuda.shared.array(SCAN_TILE, float64)  # one per line: the simulator tells them apart by line
    sb = cuda.shared.array(SCAN_TILE, float64)
    sc = cuda.shared.array(SCAN_TILE, float64)
    ta = cuda.shared.array(SCAN_BLOCK, float64)
    tb = cuda.shared.array(SCAN_BLOCK, float64)
    tc = cuda.shared.array(SCAN_BLOCK, float64)
    load_affine(n, a, b, c, sa, sb, sc)
    affine_tile_scan(sa, sb, sc, ta, tb, tc, carry(B), carry(C))
    for p in range(cuda.threadIdx.x, SCAN_TILE, SCAN_BLOCK):
        k = tile_row(p)
        if k < n:
            b[k] = sb[p]
            c[k] = sc[p]

@cuda.jit(device=True)
def load_ema(n, G, n_h, locg, ts, bid, ask, has_prev, last_ts, y, w, half_life, sa, sb, sc):
    for p in range(cuda.threadIdx.x, SCAN_TILE, SCAN_BLOCK):
        k = tile_row(p)
        i = G[k] - n_h if k < n else -1
        a = 0.0 if k < n else 1.0
        b = 0.0
        c = 0.0
        if i >= 0:
            valid = bid[i] > 0 and ask[i] > 0
            value = (float(bid[i]) + float(ask[i])) / (2 * PRICE_SCALE) if valid else 0.0
            weight = 1.0 if valid else 0.0
            if is_head(G, n_h, locg, k):
                s = locg[k]
                if has_prev[s]:
                    x = float(ts[i] - last_ts[s]) / half_life * LN2
                    decay, gain = math.exp(-x), -math.expm1(-x)
                    b = decay * y[s] + gain * value
                    c = decay * w[s] + gain * weight
                else:
                    b = value
                    c = weight
            else:
                x = float(ts[i] - ts[G[k - 1] - n_h]) / half_life * LN2
                gain = -math.expm1(-x)
                a = math.exp(-x)
                b = gain * value
                c = gain * weight
        sa[p], sb[p], sc[p] = a, b, c

@cuda.jit
def ema_reduce(n, G, n_h, locg, ts, bid, ask, has_prev, last_ts, y, w, half_life, A, B, C):
    sa = cuda.shared.array(SCAN_TILE, float64)  # one per line: the simulator tells them apart by line
    sb = cuda.shared.array(SCAN_TILE, float64)
    sc = cuda.shared.array(SCAN_TILE, float64)
    ta = cuda.shared.array(SCAN_BLOCK, float64)
    tb = cuda.shared.array(SCAN_BLOCK, float64)
    tc = cuda.shared.array(SCAN_BLOCK, float64)
    load_ema(n, G, n_h, locg, ts, bid, ask, has_prev, last_ts, y, w, half_life, sa, sb, sc)
    affine_items_scan(sa, sb, sc, ta, tb, tc)
    store_aggregate(ta, tb, tc, A, B, C)

@cuda.jit
def ema_apply(n, G, n_h, locg, ts, bid, ask, has_prev, last_ts, y, w, half_life, B, C,
              out, y_next, w_next):
    sa = cuda.shared.array(SCAN_TILE, float64)  # one per line: the simulator tells them apart by line
    sb = cuda.shared.array(SCAN_TILE, float64)
    sc = cuda.shared.array(SCAN_TILE, float64)
    ta = cuda.shared.array(SCAN_BLOCK, float64)
    tb = cuda.shared.array(SCAN_BLOCK, float64)
    tc = cuda.shared.array(SCAN_BLOCK, float64)
    load_ema(n, G, n_h, locg, ts, bid, ask, has_prev, last_ts, y, w, half_life, sa, sb, sc)
    affine_tile_scan(sa, sb, sc, ta, tb, tc, carry(B), carry(C))
    for p in range(cuda.threadIdx.x, SCAN_TILE, SCAN_BLOCK):
        k = tile_row(p)
        i = G[k] - n_h if k < n else -1
        if i >= 0:
            out[i] = sb[p] / sc[p] if sc[p] >= EMA_MIN_WEIGHT else math.nan
            if is_last(n, locg, k):
                y_next[locg[k]] = sb[p]
                w_next[locg[k]] = sc[p]

@cuda.jit(device=True)
def load_last_valid(n, G, n_h, locg, bid, ask, last_s, has_s, sa, sb, sc):
    for p in range(cuda.threadIdx.x, SCAN_TILE, SCAN_BLOCK):
        k = tile_row(p)
        i = G[k] - n_h if k < n else -1
        a = 0.0 if k < n else 1.0
        b = 0.0
        c = 0.0
        if i >= 0:
            valid = bid[i] > 0 and ask[i] > 0
            total = float(bid[i]) + float(ask[i])
            if is_head(G, n_h, locg, k):
                b = total if valid else last_s[locg[k]]
                c = 1.0 if valid else has_s[locg[k]]
            else:
                a = 0.0 if valid else 1.0
                b = total if valid else 0.0
                c = 1.0 if valid else 0.0
        sa[p], sb[p], sc[p] = a, b, c

@cuda.jit
def rv_reduce(n, G, n_h, locg, bid, ask, last_s, has_s, A, B, C):
    sa = cuda.shared.array(SCAN_TILE, float64)  # one per line: the simulator tells them apart by line
    sb = cuda.shared.array(SCAN_TILE, float64)
    sc = cuda.shared.array(SCAN_TILE, float64)
    ta = cuda.shared.array(SCAN_BLOCK, float64)
    tb = cuda.shared.array(SCAN_BLOCK, float64)
    tc = cuda.shared.array(SCAN_BLOCK, float64)
    load_last_valid(n, G, n_h, locg, bid, ask, last_s, has_s, sa, sb, sc)
    affine_items_scan(sa, sb, sc, ta, tb, tc)
    store_aggregate(ta, tb, tc, A, B, C)

@cuda.jit
def rv_apply(n, G, n_h, locg, bid, ask, last_s, has_s, B, C, halo_r2, r2_g, r2, last_s_next, has_s_next):
    sa = cuda.shared.array(SCAN_TILE, float64)  # one per line: the simulator tells them apart by line
    sb = cuda.shared.array(SCAN_TILE, float64)
    sc = cuda.shared.array(SCAN_TILE, float64)
    ta = cuda.shared.array(SCAN_BLOCK, float64)
    tb = cuda.shared.array(SCAN_BLOCK, float64)
    tc = cuda.shared.array(SCAN_BLOCK, float64)
    load_last_valid(n, G, n_h, locg, bid, ask, last_s, has_s, sa, sb, sc)
    yb, yc = carry(B), carry(C)
    affine_tile_scan(sa, sb, sc, ta, tb, tc, yb, yc)
    for p in range(cuda.threadIdx.x, SCAN_TILE, SCAN_BLOCK):
        k = tile_row(p)
        if k >= n:
            continue
        i = G[k] - n_h
        if i < 0:
            r2_g[k] = halo_r2[G[k]]
            continue
        s = locg[k]
        if is_head(G, n_h, locg, k):
            before, seen = last_s[s], has_s[s]
        else:
            before = sb[p - 1] if p > 0 else yb
            seen = sc[p - 1] if p > 0 else yc
        term = 0.0
        if bid[i] > 0 and ask[i] > 0 and seen > 0.5:
            r = math.log1p(((float(bid[i]) + float(ask[i])) - before) / before)
            term = r * r
        r2_g[k] = term
        r2[i] = term
        if is_last(n, locg, k):
            last_s_next[s] = sb[p]
            has_s_next[s] = sc[p]

@cuda.jit(device=True)
def load_dd(n, hi, lo, sh, sl):
    for p in range(cuda.threadIdx.x, SCAN_TILE, SCAN_BLOCK):
        k = tile_row(p)
        sh[p] = hi[k] if k < n else 0.0
        sl[p] = lo[k] if k < n else 0.0

@cuda.jit(device=True)
def dd_items_scan(sh, sl, th, tl):
    t = cuda.threadIdx.x
    first = t * SCAN_ITEMS
    cuda.syncthreads()
    h, l = 0.0, 0.0
    for m in range(SCAN_ITEMS):
        h, l = dd_add(h, l, sh[first + m], sl[first + m])
    d = 1
    while d < SCAN_BLOCK:
        th[t], tl[t] = h, l
        cuda.syncthreads()
        if t >= d:
            h, l = dd_add(th[t - d], tl[t - d], h, l)
        cuda.syncthreads()
        d *= 2
    th[t], tl[t] = h, l
    cuda.syncthreads()

@cuda.jit
def dd_reduce(n, hi, lo, H, L):
    sh = cuda.shared.array(SCAN_TILE, float64)  # one per line, as above
    sl = cuda.shared.array(SCAN_TILE, float64)
    th = cuda.shared.array(SCAN_BLOCK, float64)
    tl = cuda.shared.array(SCAN_BLOCK, float64)
    load_dd(n, hi, lo, sh, sl)
    dd_items_scan(sh, sl, th, tl)
    t = cuda.threadIdx.x
    if t == SCAN_BLOCK - 1:
        H[cuda.blockIdx.x], L[cuda.blockIdx.x] = th[t], tl[t]

@cuda.jit
def dd_apply(n, hi, lo, H, L):
    sh = cuda.shared.array(SCAN_TILE, float64)  # one per line, as above
    sl = cuda.shared.array(SCAN_TILE, float64)
    th = cuda.shared.array(SCAN_BLOCK, float64)
    tl = cuda.shared.array(SCAN_BLOCK, float64)
    load_dd(n, hi, lo, sh, sl)
    dd_items_scan(sh, sl, th, tl)
    t = cuda.threadIdx.x
    first = t * SCAN_ITEMS
    h, l = carry(H), carry(L)
    if t > 0:
        h, l = dd_add(h, l, th[t - 1], tl[t - 1])
    for m in range(SCAN_ITEMS):
        h, l = dd_add(h, l, sh[first + m], sl[first + m])
        sh[first + m] = h
        sl[first + m] = l
    cuda.syncthreads()
    for p in range(t, SCAN_TILE, SCAN_BLOCK):
        k = tile_row(p)
        if k < n:
            hi[k] = sh[p]
            lo[k] = sl[p]

@cuda.jit
def window_int(n, G, n_h, start, prefix, out):
    k = cuda.grid(1)
    if k >= n or G[k] < n_h:
        return
    j = start[k] - 1
    out[G[k] - n_h] = prefix[k] - (prefix[j] if j >= 0 else 0)

@cuda.jit
def window_dd(n, G, n_h, start, hi, lo, out):
    k = cuda.grid(1)
    if k >= n or G[k] < n_h:
        return
    j = start[k] - 1
    if j < 0:
        out[G[k] - n_h] = hi[k] + lo[k]
    else:
        h, e = dd_add(hi[k], lo[k], -hi[j], -lo[j])
        out[G[k] - n_h] = h + e

KERNELS = dict(rows=rows, ema_reduce=ema_reduce, ema_apply=ema_apply, rv_reduce=rv_reduce,
               rv_apply=rv_apply, affine_reduce=affine_reduce, affine_apply=affine_apply,
               dd_reduce=dd_reduce, dd_apply=dd_apply, window_int=window_int, window_dd=window_dd)


class NumbaCudaKernels(DeviceKernels):
    """Numba CUDA kernels; CuPy arrays on a real GPU with CuPy, NumPy arrays otherwise."""

    name = "numba-cuda"
    scan_block, scan_items = SCAN_BLOCK, SCAN_ITEMS

    def __init__(self) -> None:
        from tickaccel.kernels.cuda_cupy import unavailable_reason as cupy_missing

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
            block = self.scan_block
            self._kernels[kernel][(items + block - 1) // block, block](*args)
