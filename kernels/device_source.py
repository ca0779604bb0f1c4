"""OpenCL C / CUDA C source of the device kernels, one text for PyOpenCL and CuPy.

A few macros hide the dialects' differences, so the kernels that CuPy compiles
with NVRTC on a GPU are the very ones PoCL runs in the CPU-only test suite.
Every kernel takes the row count `n` first. Row kernels handle one row per
work item; scan kernels are launched with work groups of SCAN_BLOCK items,
each group scanning one tile of SCAN_TILE consecutive rows (see `tile_scan`).
"""
from __future__ import annotations

from tickaccel.schema.units import BASIS_POINTS, PRICE_SCALE

SCAN_BLOCK = 256  # work items per group, for every kernel
SCAN_ITEMS = 5  # rows each work item scans in sequence: odd, so local-memory reads avoid bank conflicts

_BODY = r"""
#ifdef __OPENCL_VERSION__
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define KERNEL __kernel
#define GLOBAL __global
#define DEVICE inline
#define SHARED __local
#define LOCAL __local
#define BARRIER barrier(CLK_LOCAL_MEM_FENCE)
#define ROW ((i64)get_global_id(0))
#define LANE ((int)get_local_id(0))
#define GROUP ((i64)get_group_id(0))
typedef long i64;
typedef uint u32;
#define NAN_F64 ((double)NAN)
#else
#define KERNEL extern "C" __global__ __launch_bounds__(SCAN_BLOCK)
#define GLOBAL
#define DEVICE __device__ inline
#define SHARED __shared__
#define LOCAL
#define BARRIER __syncthreads()
#define ROW ((i64)blockIdx.x * blockDim.x + threadIdx.x)
#define LANE ((int)threadIdx.x)
#define GROUP ((i64)blockIdx.x)
typedef long long i64;
typedef unsigned int u32;
#define NAN_F64 __longlong_as_double(0x7ff8000000000000LL)
#endif

#define SCAN_TILE (SCAN_BLOCK * SCAN_ITEMS)
#define LN2 0.6931471805599453
#define EMA_MIN_WEIGHT 1.1754943508222875e-271  /* 2^-900 */
#define EMPTY_ASK ((i64)1 << 32)

/* Output selection of `rows`: one bit per output column. */
#define OUT_MID 1
#define OUT_SPREAD 2
#define OUT_BPS 4
#define OUT_MICRO 8
#define OUT_IMB 16
#define OUT_OFI 32
#define OUT_OFI_GROUPED 64

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

/* Grouped row k starts its symbol's rows of this chunk (the row before is another symbol or halo). */
DEVICE int is_head(GLOBAL const i64 *G, i64 n_h, GLOBAL const int *locg, i64 k) {
    return k == 0 || G[k - 1] < n_h || locg[k - 1] != locg[k];
}

DEVICE int is_last(i64 n, GLOBAL const int *locg, i64 k) {
    return k == n - 1 || locg[k + 1] != locg[k];
}

/* Quote signals and OFI in one pass over grouped rows: each row's quote columns are read once,
   the previous row of its symbol is the previous grouped row (a cache hit), and the outputs go
   straight to feed order. With G the identity and no OFI bit, it is the plain quote kernel. */
KERNEL void rows(i64 n, GLOBAL const i64 *G, i64 n_h, GLOBAL const int *locg,
                 GLOBAL const u32 *bid, GLOBAL const u32 *ask, GLOBAL const i64 *bsz,
                 GLOBAL const i64 *asz, GLOBAL const i64 *halo_ofi,
                 GLOBAL const i64 *pbid, GLOBAL const i64 *pask, GLOBAL const i64 *pbsz,
                 GLOBAL const i64 *pasz, GLOBAL const i64 *has_prev,
                 GLOBAL double *mid, GLOBAL double *spread, GLOBAL double *bps, GLOBAL double *micro,
                 GLOBAL double *imb, GLOBAL i64 *ofi, GLOBAL i64 *ofi_g, int mask) {
    i64 k = ROW;
    if (k >= n) return;
    i64 i = G[k] - n_h;
    if (i < 0) {
        if (mask & OUT_OFI_GROUPED) ofi_g[k] = halo_ofi[G[k]];
        return;
    }
    u32 ub = bid[i], ua = ask[i];
    i64 sb = bsz[i], sa = asz[i];
    double b = (double)ub, a = (double)ua, qb = (double)sb, qa = (double)sa;
    int both = ub > 0 && ua > 0, sized = both && qb + qa > 0;
    if (mask & OUT_MID) mid[i] = both ? (b + a) / (2 * PRICE_SCALE) : NAN_F64;
    if (mask & OUT_SPREAD) spread[i] = both ? (a - b) / PRICE_SCALE : NAN_F64;
    if (mask & OUT_BPS) bps[i] = both ? 2.0 * BASIS_POINTS * (a - b) / (b + a) : NAN_F64;
    if (mask & OUT_MICRO) micro[i] = sized ? (b * qa + a * qb) / (qb + qa) / PRICE_SCALE : NAN_F64;
    if (mask & OUT_IMB) imb[i] = sized ? (qb - qa) / (qb + qa) : NAN_F64;
    if (mask & (OUT_OFI | OUT_OFI_GROUPED)) {
        i64 e;
        if (is_head(G, n_h, locg, k)) {
            int s = locg[k];
            e = has_prev[s] ? ofi_term(ub, ua, sb, sa, pbid[s], pask[s], pbsz[s], pasz[s]) : 0;
        } else {
            i64 j = G[k - 1] - n_h;
            e = ofi_term(ub, ua, sb, sa, bid[j], ask[j], bsz[j], asz[j]);
        }
        if (mask & OUT_OFI) ofi[i] = e;
        if (mask & OUT_OFI_GROUPED) ofi_g[k] = e;
    }
}

/* ---- Tile scans ---------------------------------------------------------------------------
   A group scans SCAN_TILE consecutive rows: its items load the tile's elements coalesced (item t
   takes rows t, t + SCAN_BLOCK, ...) into local memory, each item combines SCAN_ITEMS consecutive
   elements in order, the items' aggregates are scanned across the group (Hillis-Steele), and each
   item rescans its elements from its carry-in. A *_reduce kernel writes the tile's aggregate; the
   aggregates are scanned (recursively, the same way) and a *_apply kernel rescans each tile from
   the aggregate of the tiles before it: two reads of the input, one write of the output.

   Affine maps: element (a, b, c) maps the running (y, w) to (a y + b, a w + c); the scan of a
   symbol's rows from a head (a = 0) is the recurrence itself. */

DEVICE i64 tile_row(int p) { return GROUP * SCAN_TILE + p; }

/* Leaves in (ta, tb, tc)[t] the composition of tile elements 0 .. (t + 1) * SCAN_ITEMS - 1. */
DEVICE void affine_items_scan(LOCAL double *sa, LOCAL double *sb, LOCAL double *sc,
                              LOCAL double *ta, LOCAL double *tb, LOCAL double *tc) {
    int t = LANE, first = t * SCAN_ITEMS;
    BARRIER;
    double pa = 1.0, pb = 0.0, pc = 0.0;
    for (int m = 0; m < SCAN_ITEMS; ++m) {
        double a = sa[first + m];
        pb = a * pb + sb[first + m];
        pc = a * pc + sc[first + m];
        pa = a * pa;
    }
    for (int d = 1; d < SCAN_BLOCK; d <<= 1) {
        ta[t] = pa; tb[t] = pb; tc[t] = pc;
        BARRIER;
        if (t >= d) {
            double qa = ta[t - d], qb = tb[t - d], qc = tc[t - d];
            pb = pa * qb + pb;
            pc = pa * qc + pc;
            pa = pa * qa;
        }
        BARRIER;
    }
    ta[t] = pa; tb[t] = pb; tc[t] = pc;
    BARRIER;
}

/* Replaces (sb, sc) by each element's running value, starting from (yb, yc) before the tile. */
DEVICE void affine_tile_scan(LOCAL double *sa, LOCAL double *sb, LOCAL double *sc,
                             LOCAL double *ta, LOCAL double *tb, LOCAL double *tc, double yb, double yc) {
    affine_items_scan(sa, sb, sc, ta, tb, tc);
    int t = LANE, first = t * SCAN_ITEMS;
    double vb = t > 0 ? ta[t - 1] * yb + tb[t - 1] : yb;
    double vc = t > 0 ? ta[t - 1] * yc + tc[t - 1] : yc;
    for (int m = 0; m < SCAN_ITEMS; ++m) {
        double a = sa[first + m];
        vb = a * vb + sb[first + m];
        vc = a * vc + sc[first + m];
        sb[first + m] = vb;
        sc[first + m] = vc;
    }
    BARRIER;
}

DEVICE void store_aggregate(LOCAL double *ta, LOCAL double *tb, LOCAL double *tc,
                            GLOBAL double *A, GLOBAL double *B, GLOBAL double *C) {
    if (LANE == SCAN_BLOCK - 1) {
        A[GROUP] = ta[LANE]; B[GROUP] = tb[LANE]; C[GROUP] = tc[LANE];
    }
}

/* Running value before tile GROUP, from the scanned aggregates of the tiles. */
#define CARRY(X) (GROUP > 0 ? X[GROUP - 1] : 0.0)

#define AFFINE_LOCALS \
    SHARED double sa[SCAN_TILE], sb[SCAN_TILE], sc[SCAN_TILE]; \
    SHARED double ta[SCAN_BLOCK], tb[SCAN_BLOCK], tc[SCAN_BLOCK]

/* Materialized affine elements (the tile aggregates of the fused scans below). */
DEVICE void load_affine(i64 n, GLOBAL const double *a, GLOBAL const double *b, GLOBAL const double *c,
                        LOCAL double *sa, LOCAL double *sb, LOCAL double *sc) {
    for (int p = LANE; p < SCAN_TILE; p += SCAN_BLOCK) {
        i64 k = tile_row(p);
        sa[p] = k < n ? a[k] : 1.0;
        sb[p] = k < n ? b[k] : 0.0;
        sc[p] = k < n ? c[k] : 0.0;
    }
}

KERNEL void affine_reduce(i64 n, GLOBAL const double *a, GLOBAL const double *b, GLOBAL const double *c,
                          GLOBAL double *A, GLOBAL double *B, GLOBAL double *C) {
    AFFINE_LOCALS;
    load_affine(n, a, b, c, sa, sb, sc);
    affine_items_scan(sa, sb, sc, ta, tb, tc);
    store_aggregate(ta, tb, tc, A, B, C);
}

KERNEL void affine_apply(i64 n, GLOBAL double *a, GLOBAL double *b, GLOBAL double *c,
                         GLOBAL const double *B, GLOBAL const double *C) {
    AFFINE_LOCALS;
    load_affine(n, a, b, c, sa, sb, sc);
    affine_tile_scan(sa, sb, sc, ta, tb, tc, CARRY(B), CARRY(C));
    for (int p = LANE; p < SCAN_TILE; p += SCAN_BLOCK) {
        i64 k = tile_row(p);
        if (k < n) { b[k] = sb[p]; c[k] = sc[p]; }
    }
}

/* EMA of mid: elements made from the grouped rows on the fly, never stored. Halo rows reset
   (0, 0, 0); a symbol's head starts from its carried (y, w); padding is the identity. */
#define EMA_ARGS GLOBAL const i64 *G, i64 n_h, GLOBAL const int *locg, GLOBAL const i64 *ts, \
    GLOBAL const u32 *bid, GLOBAL const u32 *ask, GLOBAL const i64 *has_prev, \
    GLOBAL const i64 *last_ts, GLOBAL const double *y, GLOBAL const double *w, double half_life
#define EMA_PASS G, n_h, locg, ts, bid, ask, has_prev, last_ts, y, w, half_life

DEVICE void load_ema(i64 n, EMA_ARGS, LOCAL double *sa, LOCAL double *sb, LOCAL double *sc) {
    for (int p = LANE; p < SCAN_TILE; p += SCAN_BLOCK) {
        i64 k = tile_row(p), i = k < n ? G[k] - n_h : -1;
        double a = k < n ? 0.0 : 1.0, b = 0.0, c = 0.0;
        if (i >= 0) {
            int valid = bid[i] > 0 && ask[i] > 0;
            double value = valid ? ((double)bid[i] + (double)ask[i]) / (2 * PRICE_SCALE) : 0.0;
            double weight = valid ? 1.0 : 0.0;
            if (is_head(G, n_h, locg, k)) {
                int s = locg[k];
                if (has_prev[s]) {
                    double x = (double)(ts[i] - last_ts[s]) / half_life * LN2;
                    double decay = exp(-x), gain = -expm1(-x);
                    b = decay * y[s] + gain * value;
                    c = decay * w[s] + gain * weight;
                } else {
                    b = value;
                    c = weight;
                }
            } else {
                double x = (double)(ts[i] - ts[G[k - 1] - n_h]) / half_life * LN2;
                double gain = -expm1(-x);
                a = exp(-x);
                b = gain * value;
                c = gain * weight;
            }
        }
        sa[p] = a; sb[p] = b; sc[p] = c;
    }
}

KERNEL void ema_reduce(i64 n, EMA_ARGS, GLOBAL double *A, GLOBAL double *B, GLOBAL double *C) {
    AFFINE_LOCALS;
    load_ema(n, EMA_PASS, sa, sb, sc);
    affine_items_scan(sa, sb, sc, ta, tb, tc);
    store_aggregate(ta, tb, tc, A, B, C);
}

/* out = y / w in feed order; each symbol's last (y, w) goes to (y_next, w_next) for the next
   chunk (not to (y, w), which other groups may still be reading). */
KERNEL void ema_apply(i64 n, EMA_ARGS, GLOBAL const double *B, GLOBAL const double *C,
                      GLOBAL double *out, GLOBAL double *y_next, GLOBAL double *w_next) {
    AFFINE_LOCALS;
    load_ema(n, EMA_PASS, sa, sb, sc);
    affine_tile_scan(sa, sb, sc, ta, tb, tc, CARRY(B), CARRY(C));
    for (int p = LANE; p < SCAN_TILE; p += SCAN_BLOCK) {
        i64 k = tile_row(p), i = k < n ? G[k] - n_h : -1;
        if (i < 0) continue;
        out[i] = sc[p] >= EMA_MIN_WEIGHT ? sb[p] / sc[p] : NAN_F64;
        if (is_last(n, locg, k)) { y_next[locg[k]] = sb[p]; w_next[locg[k]] = sc[p]; }
    }
}

/* Realized-variance terms: a scan carries each symbol's last bid + ask with both sides present
   (b) and whether there is one (c); a row's r^2 compares its bid + ask with the value before it. */
#define RV_ARGS GLOBAL const i64 *G, i64 n_h, GLOBAL const int *locg, GLOBAL const u32 *bid, \
    GLOBAL const u32 *ask, GLOBAL const double *last_s, GLOBAL const double *has_s
#define RV_PASS G, n_h, locg, bid, ask, last_s, has_s

DEVICE void load_last_valid(i64 n, RV_ARGS, LOCAL double *sa, LOCAL double *sb, LOCAL double *sc) {
    for (int p = LANE; p < SCAN_TILE; p += SCAN_BLOCK) {
        i64 k = tile_row(p), i = k < n ? G[k] - n_h : -1;
        double a = k < n ? 0.0 : 1.0, b = 0.0, c = 0.0;
        if (i >= 0) {
            int valid = bid[i] > 0 && ask[i] > 0;
            double total = (double)bid[i] + (double)ask[i];
            if (is_head(G, n_h, locg, k)) {
                b = valid ? total : last_s[locg[k]];
                c = valid ? 1.0 : has_s[locg[k]];
            } else {
                a = valid ? 0.0 : 1.0;
                b = valid ? total : 0.0;
                c = valid ? 1.0 : 0.0;
            }
        }
        sa[p] = a; sb[p] = b; sc[p] = c;
    }
}

KERNEL void rv_reduce(i64 n, RV_ARGS, GLOBAL double *A, GLOBAL double *B, GLOBAL double *C) {
    AFFINE_LOCALS;
    load_last_valid(n, RV_PASS, sa, sb, sc);
    affine_items_scan(sa, sb, sc, ta, tb, tc);
    store_aggregate(ta, tb, tc, A, B, C);
}

/* r^2 of every grouped row (halo rows keep theirs) into r2_g, and of chunk rows into feed order. */
KERNEL void rv_apply(i64 n, RV_ARGS, GLOBAL const double *B, GLOBAL const double *C,
                     GLOBAL const double *halo_r2, GLOBAL double *r2_g, GLOBAL double *r2,
                     GLOBAL double *last_s_next, GLOBAL double *has_s_next) {
    AFFINE_LOCALS;
    load_last_valid(n, RV_PASS, sa, sb, sc);
    double yb = CARRY(B), yc = CARRY(C);
    affine_tile_scan(sa, sb, sc, ta, tb, tc, yb, yc);
    for (int p = LANE; p < SCAN_TILE; p += SCAN_BLOCK) {
        i64 k = tile_row(p);
        if (k >= n) continue;
        i64 i = G[k] - n_h;
        if (i < 0) { r2_g[k] = halo_r2[G[k]]; continue; }
        int s = locg[k], head = is_head(G, n_h, locg, k);
        double before = head ? last_s[s] : (p > 0 ? sb[p - 1] : yb);
        double seen = head ? has_s[s] : (p > 0 ? sc[p - 1] : yc);
        double term = 0.0;
        if (bid[i] > 0 && ask[i] > 0 && seen > 0.5) {
            double r = log1p((((double)bid[i] + (double)ask[i]) - before) / before);
            term = r * r;
        }
        r2_g[k] = term;
        r2[i] = term;
        if (is_last(n, locg, k)) { last_s_next[s] = sb[p]; has_s_next[s] = sc[p]; }
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

#define DD_LOCALS SHARED double sh[SCAN_TILE], sl[SCAN_TILE]; SHARED double th[SCAN_BLOCK], tl[SCAN_BLOCK]

DEVICE void load_dd(i64 n, GLOBAL const double *hi, GLOBAL const double *lo, LOCAL double *sh, LOCAL double *sl) {
    for (int p = LANE; p < SCAN_TILE; p += SCAN_BLOCK) {
        i64 k = tile_row(p);
        sh[p] = k < n ? hi[k] : 0.0;
        sl[p] = k < n ? lo[k] : 0.0;
    }
}

/* Leaves in (th, tl)[t] the double-double sum of tile elements 0 .. (t + 1) * SCAN_ITEMS - 1. */
DEVICE void dd_items_scan(LOCAL double *sh, LOCAL double *sl, LOCAL double *th, LOCAL double *tl) {
    int t = LANE, first = t * SCAN_ITEMS;
    BARRIER;
    double h = 0.0, l = 0.0;
    for (int m = 0; m < SCAN_ITEMS; ++m) h = dd_add(h, l, sh[first + m], sl[first + m], &l);
    for (int d = 1; d < SCAN_BLOCK; d <<= 1) {
        th[t] = h; tl[t] = l;
        BARRIER;
        if (t >= d) h = dd_add(th[t - d], tl[t - d], h, l, &l);
        BARRIER;
    }
    th[t] = h; tl[t] = l;
    BARRIER;
}

KERNEL void dd_reduce(i64 n, GLOBAL const double *hi, GLOBAL const double *lo,
                      GLOBAL double *H, GLOBAL double *L) {
    DD_LOCALS;
    load_dd(n, hi, lo, sh, sl);
    dd_items_scan(sh, sl, th, tl);
    if (LANE == SCAN_BLOCK - 1) { H[GROUP] = th[LANE]; L[GROUP] = tl[LANE]; }
}

KERNEL void dd_apply(i64 n, GLOBAL double *hi, GLOBAL double *lo, GLOBAL const double *H,
                     GLOBAL const double *L) {
    DD_LOCALS;
    load_dd(n, hi, lo, sh, sl);
    dd_items_scan(sh, sl, th, tl);
    int t = LANE, first = t * SCAN_ITEMS;
    double l = CARRY(L), h = CARRY(H);
    if (t > 0) h = dd_add(h, l, th[t - 1], tl[t - 1], &l);
    for (int m = 0; m < SCAN_ITEMS; ++m) {
        h = dd_add(h, l, sh[first + m], sl[first + m], &l);
        sh[first + m] = h; sl[first + m] = l;
    }
    BARRIER;
    for (int p = LANE; p < SCAN_TILE; p += SCAN_BLOCK) {
        i64 k = tile_row(p);
        if (k < n) { hi[k] = sh[p]; lo[k] = sl[p]; }
    }
}

/* Trailing-window sums as differences of inclusive prefix sums, written in feed order. */
KERNEL void window_int(i64 n, GLOBAL const i64 *G, i64 n_h, GLOBAL const i64 *start,
                       GLOBAL const i64 *prefix, GLOBAL i64 *out) {
    i64 k = ROW;
    if (k >= n || G[k] < n_h) return;
    i64 j = start[k] - 1;
    out[G[k] - n_h] = prefix[k] - (j >= 0 ? prefix[j] : 0);
}

KERNEL void window_dd(i64 n, GLOBAL const i64 *G, i64 n_h, GLOBAL const i64 *start,
                      GLOBAL const double *hi, GLOBAL const double *lo, GLOBAL double *out) {
    i64 k = ROW;
    if (k >= n || G[k] < n_h) return;
    i64 j = start[k] - 1;
    if (j < 0) { out[G[k] - n_h] = hi[k] + lo[k]; return; }
    double e;
    double h = dd_add(hi[k], lo[k], -hi[j], -lo[j], &e);
    out[G[k] - n_h] = h + e;
}
"""

# The scales as double literals, so that prices divide in floating point as in the Python kernels
SOURCE = (f"#define SCAN_BLOCK {SCAN_BLOCK}\n#define SCAN_ITEMS {SCAN_ITEMS}\n"
          f"#define PRICE_SCALE {float(PRICE_SCALE)!r}\n#define BASIS_POINTS {float(BASIS_POINTS)!r}\n"
          + _BODY)
