"""OpenCL C / CUDA C source of the device kernels, one text for PyOpenCL and CuPy.

A few macros hide the dialects' differences, so the kernels that CuPy compiles
with NVRTC on a GPU are the very ones PoCL runs in the CPU-only test suite.
Every kernel takes the row count `n` first and handles one row (or, for the
scans, one tile of `tile` consecutive rows) per work item.
"""
from __future__ import annotations

SOURCE = r"""
#ifdef __OPENCL_VERSION__
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define KERNEL __kernel
#define GLOBAL __global
#define DEVICE inline
#define ROW ((i64)get_global_id(0))
typedef long i64;
typedef uint u32;
#define NAN_F64 ((double)NAN)
#else
#define KERNEL extern "C" __global__
#define GLOBAL
#define DEVICE __device__ inline
#define ROW ((i64)blockIdx.x * blockDim.x + threadIdx.x)
typedef long long i64;
typedef unsigned int u32;
#define NAN_F64 __longlong_as_double(0x7ff8000000000000LL)
#endif

#define LN2 0.6931471805599453
#define EMA_MIN_WEIGHT 1.1754943508222875e-271  /* 2^-900 */
#define EMPTY_ASK ((i64)1 << 32)

DEVICE i64 ofi_term(i64 bid, i64 ask, i64 bsz, i64 asz, i64 pbid, i64 pask, i64 pbsz, i64 pasz) {
    i64 bq = bid > 0 ? bsz : 0, ap = ask > 0 ? ask : EMPTY_ASK, aq = ask > 0 ? asz : 0;
    i64 pbq = pbid > 0 ? pbsz : 0, pap = pask > 0 ? pask : EMPTY_ASK, paq = pask > 0 ? pasz : 0;
    i64 e = 0;
    if (bid >= pbid) e += bq;
    if (bid <= pbid) e -= pbq;
    if (ap <= pap) e -= aq;
    if (ap >= pap) e += paq;
    return e;
}

DEVICE int is_head(GLOBAL const i64 *G, i64 n_h, GLOBAL const int *locg, i64 k) {
    return k == 0 || G[k - 1] < n_h || locg[k - 1] != locg[k];
}

KERNEL void quote(i64 n, GLOBAL const u32 *bid, GLOBAL const u32 *ask, GLOBAL const i64 *bsz,
                  GLOBAL const i64 *asz, GLOBAL double *mid, GLOBAL double *spread,
                  GLOBAL double *bps, GLOBAL double *micro, GLOBAL double *imb, int mask) {
    i64 i = ROW;
    if (i >= n) return;
    double b = (double)bid[i], a = (double)ask[i], qb = (double)bsz[i], qa = (double)asz[i];
    int both = bid[i] > 0 && ask[i] > 0, sized = both && qb + qa > 0;
    if (mask & 1) mid[i] = both ? (b + a) / 20000.0 : NAN_F64;
    if (mask & 2) spread[i] = both ? (a - b) / 10000.0 : NAN_F64;
    if (mask & 4) bps[i] = both ? 20000.0 * (a - b) / (b + a) : NAN_F64;
    if (mask & 8) micro[i] = sized ? (b * qa + a * qb) / (qb + qa) / 10000.0 : NAN_F64;
    if (mask & 16) imb[i] = sized ? (qb - qa) / (qb + qa) : NAN_F64;
}

KERNEL void terms(i64 n, GLOBAL const i64 *G, i64 n_h, GLOBAL const int *locg,
                  GLOBAL const u32 *bid, GLOBAL const u32 *ask, GLOBAL const i64 *bsz,
                  GLOBAL const i64 *asz, GLOBAL const i64 *halo_ofi,
                  GLOBAL const i64 *pbid, GLOBAL const i64 *pask, GLOBAL const i64 *pbsz,
                  GLOBAL const i64 *pasz, GLOBAL const i64 *has_prev, GLOBAL const double *last_s,
                  GLOBAL const double *has_s, GLOBAL i64 *ofi, GLOBAL double *lva,
                  GLOBAL double *lvb, GLOBAL double *lvc) {
    i64 k = ROW;
    if (k >= n) return;
    i64 i = G[k] - n_h;
    if (i < 0) {
        ofi[k] = halo_ofi[G[k]];
        lva[k] = 0.0; lvb[k] = 0.0; lvc[k] = 0.0;
        return;
    }
    int s = locg[k];
    int valid = bid[i] > 0 && ask[i] > 0;
    double total = (double)bid[i] + (double)ask[i];
    if (is_head(G, n_h, locg, k)) {
        ofi[k] = has_prev[s] ? ofi_term(bid[i], ask[i], bsz[i], asz[i], pbid[s], pask[s], pbsz[s], pasz[s]) : 0;
        lva[k] = 0.0;
        lvb[k] = valid ? total : last_s[s];
        lvc[k] = valid ? 1.0 : has_s[s];
    } else {
        i64 j = G[k - 1] - n_h;
        ofi[k] = ofi_term(bid[i], ask[i], bsz[i], asz[i], bid[j], ask[j], bsz[j], asz[j]);
        lva[k] = valid ? 0.0 : 1.0;
        lvb[k] = valid ? total : 0.0;
        lvc[k] = valid ? 1.0 : 0.0;
    }
}

KERNEL void ema_elems(i64 n, GLOBAL const i64 *G, i64 n_h, GLOBAL const int *locg,
                      GLOBAL const i64 *ts, GLOBAL const u32 *bid, GLOBAL const u32 *ask,
                      GLOBAL const i64 *has_prev, GLOBAL const i64 *last_ts,
                      GLOBAL const double *y, GLOBAL const double *w, double half_life,
                      GLOBAL double *a, GLOBAL double *b, GLOBAL double *c) {
    i64 k = ROW;
    if (k >= n) return;
    i64 i = G[k] - n_h;
    if (i < 0) { a[k] = 0.0; b[k] = 0.0; c[k] = 0.0; return; }
    int s = locg[k];
    int valid = bid[i] > 0 && ask[i] > 0;
    double value = valid ? ((double)bid[i] + (double)ask[i]) / 20000.0 : 0.0;
    double weight = valid ? 1.0 : 0.0;
    if (is_head(G, n_h, locg, k)) {
        if (has_prev[s]) {
            double x = (double)(ts[i] - last_ts[s]) / half_life * LN2;
            double decay = exp(-x), gain = -expm1(-x);
            b[k] = decay * y[s] + gain * value;
            c[k] = decay * w[s] + gain * weight;
        } else {
            b[k] = value;
            c[k] = weight;
        }
        a[k] = 0.0;
    } else {
        double x = (double)(ts[i] - ts[G[k - 1] - n_h]) / half_life * LN2;
        double decay = exp(-x), gain = -expm1(-x);
        a[k] = decay;
        b[k] = gain * value;
        c[k] = gain * weight;
    }
}

KERNEL void ema_finish(i64 n, GLOBAL const double *b, GLOBAL const double *c, GLOBAL double *out) {
    i64 k = ROW;
    if (k >= n) return;
    out[k] = c[k] >= EMA_MIN_WEIGHT ? b[k] / c[k] : NAN_F64;
}

KERNEL void rv_terms(i64 n, GLOBAL const i64 *G, i64 n_h, GLOBAL const int *locg,
                     GLOBAL const u32 *bid, GLOBAL const u32 *ask, GLOBAL const double *lvb,
                     GLOBAL const double *lvc, GLOBAL const double *last_s,
                     GLOBAL const double *has_s, GLOBAL const double *halo_r2, GLOBAL double *r2) {
    i64 k = ROW;
    if (k >= n) return;
    i64 i = G[k] - n_h;
    if (i < 0) { r2[k] = halo_r2[G[k]]; return; }
    int head = is_head(G, n_h, locg, k);
    double before = head ? last_s[locg[k]] : lvb[k - 1];
    double seen = head ? has_s[locg[k]] : lvc[k - 1];
    if (bid[i] > 0 && ask[i] > 0 && seen > 0.5) {
        double r = log1p((((double)bid[i] + (double)ask[i]) - before) / before);
        r2[k] = r * r;
    } else {
        r2[k] = 0.0;
    }
}

/* Double-double arithmetic (Knuth's TwoSum): about 106 bits of prefix sum. */
DEVICE double dd_add(double h1, double l1, double h2, double l2, double *lo) {
    double s = h1 + h2, v = s - h1;
    double e = (h1 - (s - v)) + (h2 - v) + (l1 + l2);
    double hi = s + e;
    *lo = e - (hi - s);
    return hi;
}

KERNEL void window_dd(i64 n, GLOBAL const i64 *start, GLOBAL const double *hi,
                      GLOBAL const double *lo, GLOBAL double *out) {
    i64 k = ROW;
    if (k >= n) return;
    i64 j = start[k] - 1;
    if (j < 0) { out[k] = hi[k] + lo[k]; return; }
    double e;
    double h = dd_add(hi[k], lo[k], -hi[j], -lo[j], &e);
    out[k] = h + e;
}

/* Scans: each work item reduces (pass 1) or scans with its carry-in (pass 2) one tile. */
KERNEL void affine_reduce(i64 n, i64 tile, GLOBAL const double *a, GLOBAL const double *b,
                          GLOBAL const double *c, GLOBAL double *A, GLOBAL double *B, GLOBAL double *C) {
    i64 t = ROW, k = t * tile, end = k + tile < n ? k + tile : n;
    if (k >= n) return;
    double pa = 1.0, pb = 0.0, pc = 0.0;
    for (; k < end; ++k) {
        pa = a[k] * pa;
        pb = a[k] * pb + b[k];
        pc = a[k] * pc + c[k];
    }
    A[t] = pa; B[t] = pb; C[t] = pc;
}

KERNEL void affine_apply(i64 n, i64 tile, GLOBAL const double *a, GLOBAL double *b,
                         GLOBAL double *c, GLOBAL const double *B, GLOBAL const double *C) {
    i64 t = ROW, k = t * tile, end = k + tile < n ? k + tile : n;
    if (k >= n) return;
    double pb = t > 0 ? B[t - 1] : 0.0, pc = t > 0 ? C[t - 1] : 0.0;
    for (; k < end; ++k) {
        pb = a[k] * pb + b[k];
        pc = a[k] * pc + c[k];
        b[k] = pb; c[k] = pc;
    }
}

KERNEL void dd_reduce(i64 n, i64 tile, GLOBAL const double *hi, GLOBAL const double *lo,
                      GLOBAL double *H, GLOBAL double *L) {
    i64 t = ROW, k = t * tile, end = k + tile < n ? k + tile : n;
    if (k >= n) return;
    double h = 0.0, l = 0.0;
    for (; k < end; ++k) h = dd_add(h, l, hi[k], lo[k], &l);
    H[t] = h; L[t] = l;
}

KERNEL void dd_apply(i64 n, i64 tile, GLOBAL double *hi, GLOBAL double *lo,
                     GLOBAL const double *H, GLOBAL const double *L) {
    i64 t = ROW, k = t * tile, end = k + tile < n ? k + tile : n;
    if (k >= n) return;
    double h = t > 0 ? H[t - 1] : 0.0, l = t > 0 ? L[t - 1] : 0.0;
    for (; k < end; ++k) {
        h = dd_add(h, l, hi[k], lo[k], &l);
        hi[k] = h; lo[k] = l;
    }
}
"""
