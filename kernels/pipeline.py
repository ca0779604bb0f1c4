"""The chunked signal pipeline shared by the device backends (cupy, numba-cuda, opencl).

The `cpu` backend does not use it: one sequential pass (cpu.py) beats sorting on a CPU.

A backend is a `KernelSet`: an array module `xp` (NumPy or CuPy) for sorting,
searching and integer prefix sums, plus ten small kernels for the floating
point work. The pipeline works one chunk of BBO rows at a time:

1. the chunk's rows and the *halo* (per-row window terms of earlier rows still
   inside the longest window) are grouped by symbol with a stable sort, so each
   symbol's rows are contiguous and in feed order;
2. recurrences (OFI against the previous row, the EMA, the last valid mid) are
   segmented scans of affine maps y_k = a_k y_{k-1} + b_k over the grouped rows;
   a symbol's first row in the chunk starts from the per-symbol state carried
   from the previous chunk (a = 0 there, the state folded into b);
3. trailing-window sums are differences of prefix sums at the window ends,
   found by binary search on the key (locate << 47) | timestamp: exact int64
   for OFI and trades, double-double (about 106 bits) for squared returns, so
   the difference keeps full double precision however long the prefix.

Per-symbol state lives in arrays indexed by stock_locate (65536 entries).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .columns import KEY_SHIFT, Depth, Quotes, Trades
from .reference import depth_row_imbalance
from .spec import QUOTE_KINDS, SignalSpec

N_LOCATES = 1 << 16
RECURSIVE_KINDS = ("ofi", "ofi_sum", "ema_mid", "realized_variance")
WINDOW_KINDS = ("ofi_sum", "realized_variance")


class KernelSet(Protocol):
    """The kernels a backend supplies; arrays are `xp` arrays, G is the grouping permutation."""

    name: str
    xp: Any

    def asarray(self, host: np.ndarray) -> Any: ...
    def to_host(self, array: Any) -> np.ndarray: ...
    def quote(self, bid, ask, bsz, asz, outs: list) -> None: ...
    def terms(self, G, n_halo: int, locg, bid, ask, bsz, asz, halo_ofi, st: "SymbolState"): ...
    def ema_elems(self, G, n_halo: int, locg, ts, bid, ask, st: "SymbolState", y, w,
                  half_life_ns: int): ...
    def scan_affine(self, a, b, c) -> None: ...
    def ema_finish(self, b, c): ...
    def rv_terms(self, G, n_halo: int, locg, bid, ask, lvb, lvc, st: "SymbolState", halo_r2): ...
    def scan_dd(self, hi, lo) -> None: ...
    def window_dd(self, start, hi, lo): ...


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

    quote_outs = [xp.empty(r1 - r0) if spec.of_kind(k) else None for k in QUOTE_KINDS]
    if any(o is not None for o in quote_outs):
        ks.quote(bid, ask, bsz, asz, quote_outs)
        for kind, values in zip(QUOTE_KINDS, quote_outs):
            for sig in spec.of_kind(kind):
                out[sig.name] = values
    if spec.of_kind(*RECURSIVE_KINDS):
        out.update(_recursive(ks, spec, st, seq, ts, loc, bid, ask, bsz, asz))
    if trades is not None and spec.of_kind("trade_vwap", "trade_imbalance"):
        out.update(_trade_windows(ks, spec, trades, seq, ts, loc))
    if depth is not None and spec.of_kind("depth_imbalance"):
        out.update(_depth_asof(ks, spec, st, depth, seq, loc))
    return out


def _recursive(ks: KernelSet, spec: SignalSpec, st: SymbolState, seq, ts, loc, bid, ask, bsz, asz):
    xp = ks.xp
    halo_loc, halo_ts, halo_ofi, halo_r2 = st.halo
    n_h, n_c = len(halo_loc), len(loc)
    loc_all = xp.concatenate([halo_loc, loc])
    ts_all = xp.concatenate([halo_ts, ts])
    G = xp.argsort(loc_all, kind="stable")
    locg, tsg = loc_all[G], ts_all[G]
    in_chunk = xp.nonzero(G >= n_h)[0]  # grouped positions of this chunk's rows
    feed_pos = G[in_chunk] - n_h
    is_last = xp.zeros(len(G), bool)  # a symbol's last row of this chunk
    if len(G):
        is_last[:-1] = locg[1:] != locg[:-1]
        is_last[-1] = True
    last = xp.nonzero(is_last & (G >= n_h))[0]
    last_loc, last_feed = locg[last], G[last] - n_h

    def to_feed(values_g, dtype=np.float64):
        values = xp.empty(n_c, dtype)
        values[feed_pos] = values_g[in_chunk]
        return values

    out: dict[str, Any] = {}
    ofi_g, lva, lvb, lvc = ks.terms(G, n_h, locg, bid, ask, bsz, asz, halo_ofi, st)
    ofi_feed = to_feed(ofi_g, np.int64)
    for sig in spec.of_kind("ofi"):
        out[sig.name] = ofi_feed
    for sig in spec.of_kind("ema_mid"):
        y, w = st.ema[sig.name]
        a, b, c = ks.ema_elems(G, n_h, locg, ts, bid, ask, st, y, w, sig.half_life_ns)
        ks.scan_affine(a, b, c)
        out[sig.name] = to_feed(ks.ema_finish(b, c))
        y[last_loc], w[last_loc] = b[last], c[last]
    ks.scan_affine(lva, lvb, lvc)
    r2_g = ks.rv_terms(G, n_h, locg, bid, ask, lvb, lvc, st, halo_r2)

    keyg = _key(xp, locg, tsg)
    ofi_prefix = rv_hi = rv_lo = None
    for sig in spec.of_kind(*WINDOW_KINDS):
        start = xp.searchsorted(keyg, _key(xp, locg, xp.maximum(tsg - (sig.window_ns - 1), 0)))
        if sig.kind == "ofi_sum":
            if ofi_prefix is None:
                ofi_prefix = xp.concatenate([xp.zeros(1, np.int64), xp.cumsum(ofi_g)])
            sums = ofi_prefix[xp.arange(1, len(G) + 1)] - ofi_prefix[start]
            out[sig.name] = to_feed(sums, np.int64)
        else:
            if rv_hi is None:
                rv_hi, rv_lo = r2_g.copy(), xp.zeros_like(r2_g)
                ks.scan_dd(rv_hi, rv_lo)
            out[sig.name] = to_feed(ks.window_dd(start, rv_hi, rv_lo))

    # State for the next chunk: each symbol's last row here.
    st.prev_bid[last_loc] = bid[last_feed]
    st.prev_ask[last_loc] = ask[last_feed]
    st.prev_bsz[last_loc] = bsz[last_feed]
    st.prev_asz[last_loc] = asz[last_feed]
    st.has_prev[last_loc] = 1
    st.last_ts[last_loc] = ts[last_feed]
    st.last_s[last_loc] = lvb[last]
    st.has_s[last_loc] = lvc[last]
    window = spec.max_window_ns(*WINDOW_KINDS)
    if window and n_c:
        cut = int(xp.searchsorted(ts_all, ts_all[-1] - (window - 1)))
        r2_all = xp.concatenate([halo_r2, to_feed(r2_g)])
        ofi_all = xp.concatenate([halo_ofi, ofi_feed])
        st.halo = (loc_all[cut:], ts_all[cut:], ofi_all[cut:], r2_all[cut:])
    return out


def _trade_windows(ks: KernelSet, spec: SignalSpec, trades: Trades, seq, ts, loc):
    """VWAP and sign imbalance of each BBO row's trailing trade window (integer prefix sums)."""
    xp = ks.xp
    widest = spec.max_window_ns("trade_vwap", "trade_imbalance")
    t1 = int(np.searchsorted(trades.seq, int(seq[-1]), side="right"))
    t0 = min(t1, int(np.searchsorted(trades.ts, int(ts[0]) - (widest - 1))))
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
            num, den, scale = notional, volume, 10000.0
        else:
            num, den, scale = signed, unsigned, 1.0
        den_w = (den[hi] - den[lo]).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[sig.name] = xp.where(den_w > 0, (num[hi] - num[lo]).astype(np.float64) / den_w / scale, np.nan)
    return out


def _depth_asof(ks: KernelSet, spec: SignalSpec, st: SymbolState, depth: Depth, seq, loc):
    """Each BBO row's symbol's latest depth-row imbalance with seq <= the row's seq."""
    xp = ks.xp
    d0 = st.depth_cursor
    d1 = int(np.searchsorted(depth.seq, int(seq[-1]), side="right"))
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
