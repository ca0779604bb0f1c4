"""The pipeline's kernel calls for device backends, on top of a backend's `launch`.

A device backend (cupy, opencl, numba-cuda) supplies `xp`, `launch(name, items,
*args)` running kernel `name` over that many work items in groups of
`scan_block`, and the tile of its scans (`scan_block * scan_items` rows); this
class turns those into the `KernelSet` methods. Scans are reduce-then-scan over
tiles: a reduce kernel writes each tile's aggregate, the aggregates are scanned
the same way (recursively), an apply kernel rescans each tile from its carry-in.
The EMA and realized-variance scans make their elements from the grouped rows
inside both passes and write their outputs in feed order, so no element array
is ever stored.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from tickaccel.kernels.device_source import SCAN_BLOCK, SCAN_ITEMS
from tickaccel.kernels.pipeline import SymbolState

# Bits of the `rows` kernel's output mask, in the order of its output arguments.
ROW_OUTPUTS = ("mid", "spread", "spread_bps", "microprice", "imbalance", "ofi", "ofi_grouped")


class DeviceKernels(ABC):
    """KernelSet methods shared by the device backends."""

    name: str
    xp = np
    scan_block = SCAN_BLOCK
    scan_items = SCAN_ITEMS

    @abstractmethod
    def launch(self, kernel: str, items: int, *args) -> None:
        """Run `kernel` over `items` work items with `args` as given (the first is the row count)."""

    def asarray(self, host: np.ndarray):
        return self.xp.asarray(host)

    def to_host(self, array) -> np.ndarray:
        return np.asarray(array)

    def _empty(self, n: int, dtype=np.float64):
        return self.xp.empty(n, dtype)

    def rows(self, G, n_h, locg, bid, ask, bsz, asz, halo_ofi, st: SymbolState, outs: dict) -> None:
        """Write the outputs named in `outs` (keys of ROW_OUTPUTS) in one pass over the grouped rows."""
        dummy = self._empty(1)
        args = [outs.get(name, dummy) for name in ROW_OUTPUTS]
        mask = sum(1 << bit for bit, name in enumerate(ROW_OUTPUTS) if name in outs)
        self.launch("rows", len(G), np.int64(len(G)), G, np.int64(n_h), locg, bid, ask, bsz, asz, halo_ofi,
                    st.prev_bid, st.prev_ask, st.prev_bsz, st.prev_asz, st.has_prev, *args, np.int32(mask))

    def ema(self, G, n_h, locg, ts, bid, ask, st: SymbolState, y, w, half_life_ns: int, out):
        """EMA of mid into `out` (feed order); returns each symbol's (y, w) after this chunk."""
        args = (G, np.int64(n_h), locg, ts, bid, ask, st.has_prev, st.last_ts, y, w, np.float64(half_life_ns))
        y_next, w_next = y.copy(), w.copy()
        self._fused_scan("ema", len(G), args, (out, y_next, w_next))
        return y_next, w_next

    def realized_terms(self, G, n_h, locg, bid, ask, st: SymbolState, halo_r2, r2_g, r2):
        """r^2 of each grouped row into `r2_g` and of each chunk row into `r2`; returns the next
        (last_s, has_s) state."""
        last_s, has_s = st.last_s.copy(), st.has_s.copy()
        args = (G, np.int64(n_h), locg, bid, ask, st.last_s, st.has_s)
        self._fused_scan("rv", len(G), args, (halo_r2, r2_g, r2, last_s, has_s))
        return last_s, has_s

    def window_int(self, G, n_h, start, prefix, out) -> None:
        self.launch("window_int", len(G), np.int64(len(G)), G, np.int64(n_h), start, prefix, out)

    def window_dd(self, G, n_h, start, hi, lo, out) -> None:
        self.launch("window_dd", len(G), np.int64(len(G)), G, np.int64(n_h), start, hi, lo, out)

    def _tiles(self, n: int) -> int:
        return -(-n // (self.scan_block * self.scan_items))

    def _fused_scan(self, prefix: str, n: int, args: tuple, apply_args: tuple) -> None:
        """`{prefix}_reduce`, the scan of its tile aggregates, then `{prefix}_apply` with `apply_args`."""
        if n == 0:
            return
        tiles = self._tiles(n)
        A, B, C = self._empty(tiles), self._empty(tiles), self._empty(tiles)
        self.launch(f"{prefix}_reduce", tiles * self.scan_block, np.int64(n), *args, A, B, C)
        self.scan_affine(A, B, C)
        self.launch(f"{prefix}_apply", tiles * self.scan_block, np.int64(n), *args, B, C, *apply_args)

    def scan_affine(self, a, b, c) -> None:
        """In-place inclusive scan of affine maps: (b, c)[k] becomes the running value at k from 0."""
        n = len(a)
        tiles = self._tiles(n)
        if tiles > 1:
            A, B, C = self._empty(tiles), self._empty(tiles), self._empty(tiles)
            self.launch("affine_reduce", tiles * self.scan_block, np.int64(n), a, b, c, A, B, C)
            self.scan_affine(A, B, C)
        else:
            B = C = self._empty(1)
        self.launch("affine_apply", tiles * self.scan_block, np.int64(n), a, b, c, B, C)

    def scan_dd(self, hi, lo) -> None:
        """In-place inclusive double-double prefix sum of (hi, lo)."""
        n = len(hi)
        tiles = self._tiles(n)
        if tiles > 1:
            H, L = self._empty(tiles), self._empty(tiles)
            self.launch("dd_reduce", tiles * self.scan_block, np.int64(n), hi, lo, H, L)
            self.scan_dd(H, L)
        else:
            H = L = self._empty(1)
        self.launch("dd_apply", tiles * self.scan_block, np.int64(n), hi, lo, H, L)
