"""The `cupy` backend: the shared device kernels compiled by NVRTC through CuPy.

Sorting (`cupy.argsort`, CUB radix sort), binary search and integer prefix
sums (`cupy.cumsum`, CUB scan) use CuPy; the fused row kernel, the affine and
double-double scans and the window differences are the RawKernels of
`device_source`.
"""
from __future__ import annotations

import functools
import importlib.util

import numpy as np

from tickaccel.kernels.device import DeviceKernels
from tickaccel.kernels.device_source import SOURCE

DEVICE_BYTES_PER_ROW = 512  # inputs, grouped copies, scan elements and outputs of one row


def unavailable_reason() -> str | None:
    """None if CuPy can use a CUDA device, else why not."""
    if importlib.util.find_spec("cupy") is None:
        return "cupy is not installed (pip install 'tickaccel[gpu]')"
    try:
        import cupy

        if not cupy.is_available():
            return "cupy is installed but sees no CUDA device"
    except Exception as exc:  # a broken driver or toolkit is reported, not raised
        return f"cupy cannot use the GPU: {exc}"
    return None


@functools.cache
def _module():
    import cupy

    return cupy.RawModule(code=SOURCE, options=("--std=c++14",))


class CupyKernels(DeviceKernels):
    """Shared kernels on a CUDA GPU with CuPy arrays."""

    name = "cupy"

    def __init__(self) -> None:
        import cupy

        self.xp = cupy
        self._module = _module()

    def to_host(self, array) -> np.ndarray:
        return self.xp.asnumpy(array)

    def default_chunk_rows(self, rows: int) -> int:
        free, _ = self.xp.cuda.Device().mem_info
        return max(1 << 20, min(rows, int(free * 0.6) // DEVICE_BYTES_PER_ROW))

    def launch(self, kernel: str, items: int, *args) -> None:
        if items:
            block = self.scan_block
            self._module.get_function(kernel)(((items + block - 1) // block,), (block,), args)
