"""The chunked signal pipeline shared by the device backends (cupy, numba-cuda, opencl).

The `cpu` backend does not use it: one sequential pass (cpu.py) beats sorting on a CPU.

A backend is a `KernelSet`: an array module `xp` (NumPy or CuPy) for sorting,
searching and integer prefix sums, plus fused kernels for the per-row work.
The pipeline works one chunk of BBO rows at a time:

1. the chunk's rows and the *halo* (per-row window terms of earlier rows still
   inside the longest window) are grouped by symbol with a stable sort, so each
   symbol's rows are contiguous and in feed order (the one multi-pass stage);
2. one pass over the grouped rows (`rows`) computes the quote signals and OFI
   against the previous grouped row, reading each row's quote columns once;
3. recurrences (the EMA, the last valid bid + ask behind realized variance)
   are segmented scans of affine maps y_k = a_k y_{k-1} + b_k whose elements
   are made inside the scan kernels, never stored; a symbol's first row in the
   chunk starts from the per-symbol state carried from the previous chunk
   (a = 0 there, the state folded into b);
4. trailing-window sums are differences of prefix sums at the window ends,
   found by binary search on the key (locate << 47) | timestamp: exact int64
   for OFI and trades, double-double (about 106 bits) for squared returns, so
   the difference keeps full double precision however long the prefix.

Kernels over grouped rows write their outputs straight to feed order.
Per-symbol state lives in arrays indexed by stock_locate (65536 entries).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from tickaccel.kernels.columns import KEY_SHIFT, Depth, Quotes, Trades
from tickaccel.kernels.reference import depth_row_imbalance
from tickaccel.kernels.spec import QUOTE_KINDS, SignalSpec
from tickaccel.schema.units import PRICE_SCALE

N_LOCATES = 1 << 16
RECURSIVE_KINDS = ("ofi", "ofi_sum", "ema_mid", "realized_variance")
WINDOW_KINDS = ("ofi_sum", "realized_variance")


class KernelSet(Protocol):
    """The kernels a backend supplies; arrays are `xp` arrays, G is the grouping permutation.

    Kernels over grouped rows write their per-row outputs straight to feed order."""

    name: str
    xp: Any

    def asarray(self, host: np.ndarray) -> Any: ...
    def to_host(self, array: Any) -> np.ndarray: ...
    def rows(self, G, n_h: int, locg, bid, ask, bsz, asz, halo_ofi, st: "SymbolState",
             outs: dict) -> None: ...
    def ema(self, G, n_h: int, locg, ts, bid, ask, st: "SymbolState", y, w, half_life_ns: int,
            out) -> tuple: ...
    def realized_terms(self, G, n_h: int, locg, bid, ask, st: "SymbolState", halo_r2, r2_g,
                       r2) -> tuple: ...
    def scan_dd(self, hi, lo) -> None: ...
    def window_int(self, G, n_h: int, start, prefix, out) -> None: ...
    def window_dd(self, G, n_h: int, start, hi, lo, out) -> None: ...


@dataclass
class SymbolState:
    """What one chunk hands the next: per-symbol recursion state and the window halo."""

    prev_bid: Any
    prev_ask: Any
    prev_bsz: Any
    prev_asz: Any
    has_prev: Any  # int64 0/1
    last_ts: Any
    last_s: Any  # bid + ask of the last row with both sides, float64
    has_s: Any  # float64 0/1
    ema: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name -> (y, w)
    depth_last: dict[str, Any] = field(default_factory=dict)
    depth_cursor: int = 0
    halo: tuple = ()  # (locate, ts, ofi, r2) of rows still inside a window

    @classmethod
    def empty(cls, xp, spec: SignalSpec) -> "SymbolState":
        def zeros(dtype):
            return xp.zeros(N_LOCATES, dtype)

        state = cls(zeros(np.int64), zeros(np.int64), zeros(np.int64), zeros(np.int64),
                    zeros(np.int64), zeros(np.int64), zeros(np.float64), zeros(np.float64))
        state.ema = {s.name: (zeros(np.float64), zeros(np.float64)) for s in spec.of_kind("ema_mid")}
        state.depth_last = {s.name: xp.full(N_LOCATES, np.nan) for s in spec.of_kind("depth_imbalance")}
        state.halo = (xp.zeros(0, np.int32), xp.zeros(0, np.int64), xp.zeros(0, np.int64),
                      xp.zeros(0, np.float64))
        return state


def run(ks: KernelSet, q: Quotes, spec: SignalSpec, depth: Depth | None, trades: Trades | None,
        chunk_rows: int) -> dict[str, np.ndarray]:
    """All signals of `spec` for `q`, computed `chunk_rows` BBO rows at a time."""
    n = len(q)
    out = {s.name: np.empty(n, np.int64 if s.kind in ("ofi", "ofi_sum") else np.float64)
           for s in spec.signals}
    state = SymbolState.empty(ks.xp, spec)
    for r0 in range(0, n, max(1, chunk_rows)):
        r1 = min(n, r0 + max(1, chunk_rows))
        for name, values in _chunk(ks, q, r0, r1, spec, state, depth, trades).items():
            out[name][r0:r1] = ks.to_host(values)
    return out


def _key(xp, locate, value):
    return (locate.astype(xp.int64) << KEY_SHIFT) | value


def _chunk(ks: KernelSet, q: Quotes, r0: int, r1: int, spec: SignalSpec, st: SymbolState,
           depth: Depth | None, trades: Trades | None) -> dict[str, Any]:
    xp = ks.xp
    seq, ts, loc = (ks.asarray(c[r0:r1]) for c in (q.seq, q.ts, q.locate))
    bid, ask, bsz, asz = (ks.asarray(c[r0:r1]) for c in (q.bid, q.ask, q.bid_size, q.ask_size))
    out: dict[str, Any] = {}
    if spec.of_kind(*RECURSIVE_KINDS):
        out.update(_recursive(ks, spec, st, ts, loc, bid, ask, bsz, asz))
    elif spec.of_kind(*QUOTE_KINDS):
        # No per-symbol signal: no grouping, the rows kernel runs in feed order.
        row_outs = _quote_outputs(xp, spec, r1 - r0)
        ks.rows(xp.arange(r1 - r0, dtype=np.int64), 0, loc, bid, ask, bsz, asz, xp.zeros(1, np.int64),
                st, row_outs)
        out.update(_named(spec, row_outs, QUOTE_KINDS))
    if trades is not None and spec.of_kind("trade_vwap", "trade_imbalance"):
        out.update(_trade_windows(ks, spec, trades, q, r0, r1, seq, ts, loc))
    if depth is not None and spec.of_kind("depth_imbalance"):
        out.update(_depth_asof(ks, spec, st, depth, int(q.seq[r1 - 1]), seq, loc))
    return out


def _quote_outputs(xp, spec: SignalSpec, n: int) -> dict[str, Any]:
    return {kind: xp.empty(n) for kind in QUOTE_KINDS if spec.of_kind(kind)}


def _named(spec: SignalSpec, by_kind: dict[str, Any], kinds) -> dict[str, Any]:
    """Signal name -> column, for the signals of `kinds` computed once per kind."""
    return {sig.name: by_kind[sig.kind] for sig in spec.of_kind(*kinds)}


def _recursive(ks: KernelSet, spec: SignalSpec, st: SymbolState, ts, loc, bid, ask, bsz, asz):
    """Quote signals, OFI, EMAs and window sums, over the chunk's rows grouped by symbol."""
    xp = ks.xp
    halo_loc, halo_ts, halo_ofi, halo_r2 = st.halo
    n_h, n_c = len(halo_loc), len(loc)
    loc_all = xp.concatenate([halo_loc, loc])
    ts_all = xp.concatenate([halo_ts, ts])
    G = xp.argsort(loc_all, kind="stable")
    locg = loc_all[G]
    window = spec.max_window_ns(*WINDOW_KINDS)

    row_outs = _quote_outputs(xp, spec, n_c)
    if spec.of_kind("ofi") or window:
        row_outs["ofi"] = xp.empty(n_c, np.int64)  # the window halo keeps OFI in feed order
    if spec.of_kind("ofi_sum"):
        row_outs["ofi_grouped"] = xp.empty(len(G), np.int64)
    ks.rows(G, n_h, locg, bid, ask, bsz, asz, halo_ofi, st, row_outs)
    out = _named(spec, row_outs, QUOTE_KINDS + ("ofi",))

    for sig in spec.of_kind("ema_mid"):
        y, w = st.ema[sig.name]
        out[sig.name] = xp.empty(n_c)
        st.ema[sig.name] = ks.ema(G, n_h, locg, ts, bid, ask, st, y, w, sig.half_life_ns, out[sig.name])
    r2 = xp.zeros(n_c)
    if spec.of_kind("realized_variance"):
        r2_g = xp.empty(len(G))
        st.last_s, st.has_s = ks.realized_terms(G, n_h, locg, bid, ask, st, halo_r2, r2_g, r2)

    if window:
        tsg = ts_all[G]
        keyg = _key(xp, locg, tsg)
    ofi_prefix = rv_lo = None
    for sig in spec.of_kind(*WINDOW_KINDS):
        start = xp.searchsorted(keyg, _key(xp, locg, xp.maximum(tsg - (sig.window_ns - 1), 0)))
        if sig.kind == "ofi_sum":
            if ofi_prefix is None:
                ofi_prefix = xp.cumsum(row_outs["ofi_grouped"])
            out[sig.name] = xp.empty(n_c, np.int64)
            ks.window_int(G, n_h, start, ofi_prefix, out[sig.name])
        else:
            if rv_lo is None:  # r2_g becomes its own prefix sum: only the feed-order r2 is kept
                rv_lo = xp.zeros_like(r2_g)
                ks.scan_dd(r2_g, rv_lo)
            out[sig.name] = xp.empty(n_c)
            ks.window_dd(G, n_h, start, r2_g, rv_lo, out[sig.name])

    # State for the next chunk: each symbol's last row here.
    is_last = xp.zeros(len(G), bool)
    if len(G):
        is_last[:-1] = locg[1:] != locg[:-1]
        is_last[-1] = True
    last = xp.nonzero(is_last & (G >= n_h))[0]
    last_loc, last_feed = locg[last], G[last] - n_h
    st.prev_bid[last_loc] = bid[last_feed]
    st.prev_ask[last_loc] = ask[last_feed]
    st.prev_bsz[last_loc] = bsz[last_feed]
    st.prev_asz[last_loc] = asz[last_feed]
    st.has_prev[last_loc] = 1
    st.last_ts[last_loc] = ts[last_feed]
    if window and n_c:
        cut = int(xp.searchsorted(ts_all, ts_all[-1] - (window - 1)))
        ofi_all = xp.concatenate([halo_ofi, row_outs["ofi"]])
        st.halo = (loc_all[cut:], ts_all[cut:], ofi_all[cut:], xp.concatenate([halo_r2, r2])[cut:])
    return out


def _trade_windows(ks: KernelSet, spec: SignalSpec, trades: Trades, q: Quotes, r0: int, r1: int,
                   seq, ts, loc):
    """VWAP and sign imbalance of each BBO row's trailing trade window (integer prefix sums)."""
    xp = ks.xp
    widest = spec.max_window_ns("trade_vwap", "trade_imbalance")
    t1 = int(np.searchsorted(trades.seq, q.seq[r1 - 1], side="right"))
    t0 = min(t1, int(np.searchsorted(trades.ts, q.ts[r0] - (widest - 1))))
    tloc, tseq, tts, price, shares, sign = (ks.asarray(c[t0:t1]) for c in (
        trades.locate, trades.seq, trades.ts, trades.price, trades.shares, trades.sign))
    T = xp.argsort(tloc, kind="stable")
    tlocg = tloc[T]
    seq_key, ts_key = _key(xp, tlocg, tseq[T]), _key(xp, tlocg, tts[T])

    def prefix(values):
        return xp.concatenate([xp.zeros(1, np.int64), xp.cumsum(values[T])])

    notional, volume = prefix(price * shares), prefix(shares)
    signed, unsigned = prefix(sign * shares), prefix(xp.abs(sign) * shares)
    hi = xp.searchsorted(seq_key, _key(xp, loc, seq), side="right")
    out = {}
    for sig in spec.of_kind("trade_vwap", "trade_imbalance"):
        lo = xp.minimum(xp.searchsorted(ts_key, _key(xp, loc, xp.maximum(ts - (sig.window_ns - 1), 0))), hi)
        if sig.kind == "trade_vwap":
            num, den, scale = notional, volume, float(PRICE_SCALE)
        else:
            num, den, scale = signed, unsigned, 1.0
        den_w = (den[hi] - den[lo]).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[sig.name] = xp.where(den_w > 0, (num[hi] - num[lo]).astype(np.float64) / den_w / scale, np.nan)
    return out


def _depth_asof(ks: KernelSet, spec: SignalSpec, st: SymbolState, depth: Depth, last_seq: int, seq, loc):
    """Each BBO row's symbol's latest depth-row imbalance with seq <= the row's seq."""
    xp = ks.xp
    d0 = st.depth_cursor
    d1 = int(np.searchsorted(depth.seq, last_seq, side="right"))
    st.depth_cursor = d1
    dloc = ks.asarray(depth.locate[d0:d1])
    D = xp.argsort(dloc, kind="stable")
    dlocg = dloc[D]
    dkey = _key(xp, dlocg, ks.asarray(depth.seq[d0:d1])[D])
    j = xp.searchsorted(dkey, _key(xp, loc, seq), side="right") - 1
    jc = xp.maximum(j, 0)
    found = (j >= 0) & (dlocg[jc] == loc) if d1 > d0 else xp.zeros(len(loc), bool)
    is_last = xp.ones(len(D), bool)
    is_last[:-1] = dlocg[1:] != dlocg[:-1]
    last = xp.nonzero(is_last)[0]
    out = {}
    sliced = Depth(depth.seq[d0:d1], depth.locate[d0:d1], depth.bid_price[d0:d1],
                   depth.ask_price[d0:d1], depth.bid_size[d0:d1], depth.ask_size[d0:d1])
    for sig in spec.of_kind("depth_imbalance"):
        per_row = ks.asarray(depth_row_imbalance(sliced, sig.weights))[D]
        carried = st.depth_last[sig.name]
        out[sig.name] = xp.where(found, per_row[jc] if d1 > d0 else 0.0, carried[loc])
        carried[dlocg[last]] = per_row[last]
    return out
