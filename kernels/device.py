"""The pipeline's kernel calls for device backends, on top of a backend's `launch`.

A device backend (cupy, opencl, numba-cuda) supplies `xp`, `launch(name, items,
*args)` running kernel `name` over that many work items, and the tile size of its
scans; this class turns those into the `KernelSet` methods. Scans are
reduce-then-scan over tiles: pass 1 reduces each tile, the tile aggregates
are scanned the same way (recursively), pass 2 rescans each tile from its
carry-in — so the EMA is a parallel scan of affine maps, never a row loop.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from .pipeline import SymbolState


class DeviceKernels(ABC):
    """KernelSet methods shared by the device backends."""

    name: str
    xp = np
    scan_tile = 16

    @abstractmethod
    def launch(self, kernel: str, items: int, *args) -> None:
        """Run `kernel` over `items` work items with `args` as given (the first is the row count)."""

    def asarray(self, host: np.ndarray):
        return self.xp.asarray(host)

    def to_host(self, array) -> np.ndarray:
        return np.asarray(array)

    def _empty(self, n: int, dtype=np.float64):
        return self.xp.empty(n, dtype)

    def quote(self, bid, ask, bsz, asz, outs: list) -> None:
        mask = sum(1 << i for i, o in enumerate(outs) if o is not None)
        dummy = self._empty(1)
        self.launch("quote", len(bid), np.int64(len(bid)), bid, ask, bsz, asz,
                    *[dummy if o is None else o for o in outs], np.int32(mask))

    def terms(self, G, n_h, locg, bid, ask, bsz, asz, halo_ofi, st: SymbolState):
        n = len(G)
        ofi, lva, lvb, lvc = self._empty(n, np.int64), self._empty(n), self._empty(n), self._empty(n)
        self.launch("terms", n, np.int64(n), G, np.int64(n_h), locg, bid, ask, bsz, asz, halo_ofi,
                    st.prev_bid, st.prev_ask, st.prev_bsz, st.prev_asz, st.has_prev,
                    st.last_s, st.has_s, ofi, lva, lvb, lvc)
        return ofi, lva, lvb, lvc

    def ema_elems(self, G, n_h, locg, ts, bid, ask, st: SymbolState, y, w, half_life_ns):
        n = len(G)
        a, b, c = self._empty(n), self._empty(n), self._empty(n)
        self.launch("ema_elems", n, np.int64(n), G, np.int64(n_h), locg, ts, bid, ask, st.has_prev, st.last_ts,
                    y, w, np.float64(half_life_ns), a, b, c)
        return a, b, c

    def ema_finish(self, b, c):
        out = self._empty(len(b))
        self.launch("ema_finish", len(b), np.int64(len(b)), b, c, out)
        return out

    def rv_terms(self, G, n_h, locg, bid, ask, lvb, lvc, st: SymbolState, halo_r2):
        r2 = self._empty(len(G))
        self.launch("rv_terms", len(G), np.int64(len(G)), G, np.int64(n_h), locg, bid, ask, lvb, lvc,
                    st.last_s, st.has_s, halo_r2, r2)
        return r2

    def window_dd(self, start, hi, lo):
        out = self._empty(len(start))
        self.launch("window_dd", len(start), np.int64(len(start)), start, hi, lo, out)
        return out

    def _tiles(self, n: int) -> int:
        return -(-n // self.scan_tile)

    def scan_affine(self, a, b, c) -> None:
        n, tile = len(a), np.int64(self.scan_tile)
        tiles = self._tiles(n)
        if tiles > 1:
            A, B, C = self._empty(tiles), self._empty(tiles), self._empty(tiles)
            self.launch("affine_reduce", tiles, np.int64(n), tile, a, b, c, A, B, C)
            self.scan_affine(A, B, C)
        else:
            B = C = self._empty(1)
        self.launch("affine_apply", tiles, np.int64(n), tile, a, b, c, B, C)

    def scan_dd(self, hi, lo) -> None:
        n, tile = len(hi), np.int64(self.scan_tile)
        tiles = self._tiles(n)
        if tiles > 1:
            H, L = self._empty(tiles), self._empty(tiles)
            self.launch("dd_reduce", tiles, np.int64(n), tile, hi, lo, H, L)
            self.scan_dd(H, L)
        else:
            H = L = self._empty(1)
        self.launch("dd_apply", tiles, np.int64(n), tile, hi, lo, H, L)
