"""Signal kernels: BBO, depth and trade tables in, one column per signal out.

`compute` runs a signal spec on any backend; every backend gives the numbers
of the NumPy oracle (`backend="numpy"`) within the tolerances of `TOLERANCE`.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from tickaccel.errors import BackendUnavailable, TickaccelError
from tickaccel.kernels.columns import HEAD_COLUMNS, Depth, Quotes, Trades
from tickaccel.kernels.spec import KINDS, Signal, SignalSpec, default_spec, load_spec, parse_spec

__all__ = [
    "BACKENDS", "KINDS", "TOLERANCE", "Signal", "SignalSpec", "available_backends", "compute",
    "compute_columns", "default_spec", "load_spec", "parse_spec", "resolve_backend",
]

# Fastest first: `auto` takes the first one present.
BACKENDS = ("cupy", "numba-cuda", "cpu", "opencl", "numpy")

# Agreement with the oracle: |x - ref| <= atol + rtol * |ref|; NaN where the oracle is NaN.
# Integer signals (ofi, ofi_sum) are exact. Window sums of squared returns use
# double-double sums, so they are as close as the other float signals.
TOLERANCE = {"rtol": 1e-12, "atol": 1e-15}


def _probe(name: str) -> str | None:
    """None if backend `name` can run here, else why not."""
    if name in ("numpy", "cpu"):
        return None
    if name == "opencl":
        from tickaccel.kernels.opencl import unavailable_reason
    elif name == "cupy":
        from tickaccel.kernels.cuda_cupy import unavailable_reason
    elif name == "numba-cuda":
        from tickaccel.kernels.cuda_numba import unavailable_reason
    else:
        raise BackendUnavailable(f"unknown signal backend {name!r} (known: {', '.join(BACKENDS)})")
    return unavailable_reason()


def available_backends() -> dict[str, str | None]:
    """Each signal backend mapped to None if present, else the reason it is absent."""
    return {name: _probe(name) for name in BACKENDS}


def _device_kernels(name: str):
    if name == "opencl":
        from tickaccel.kernels.opencl import OpenClKernels
        return OpenClKernels()
    if name == "cupy":
        from tickaccel.kernels.cuda_cupy import CupyKernels
        return CupyKernels()
    from tickaccel.kernels.cuda_numba import NumbaCudaKernels
    return NumbaCudaKernels()


def resolve_backend(backend: str) -> str:
    """The backend `backend` names ("auto": the fastest present); BackendUnavailable if absent."""
    if backend == "auto":
        if _probe("cupy") is None:
            return "cupy"
        from tickaccel.kernels.cuda_numba import on_real_gpu
        return "numba-cuda" if on_real_gpu() else "cpu"
    reason = _probe(backend)
    if reason is not None:
        raise BackendUnavailable(f"signal backend {backend!r} is not available: {reason}")
    return backend


def compute_columns(quotes: Quotes, spec: SignalSpec, backend: str = "auto", *,
                    depth: Depth | None = None, trades: Trades | None = None,
                    chunk_rows: int | None = None) -> dict[str, np.ndarray]:
    """The signal columns of `spec` as NumPy arrays, from already extracted input columns."""
    name = resolve_backend(backend)
    if name == "numpy":
        from tickaccel.kernels.reference import compute_reference
        return compute_reference(quotes, spec, depth, trades)
    if name == "cpu":
        from tickaccel.kernels.cpu import compute_cpu
        return compute_cpu(quotes, spec, depth, trades, chunk_rows or len(quotes))
    from tickaccel.kernels.pipeline import run
    kernels = _device_kernels(name)
    rows = chunk_rows or getattr(kernels, "default_chunk_rows", lambda n: n)(len(quotes))
    return run(kernels, quotes, spec, depth, trades, rows)


def compute(table: pa.Table, spec: SignalSpec | None = None, backend: str = "auto", *,
            depth: pa.Table | None = None, trades: pa.Table | None = None,
            chunk_rows: int | None = None) -> pa.Table:
    """Signals of every BBO row: the table's seq, timestamp, stock_locate, symbol + one column per signal.

    Signals that need the depth or trades table are left out when it is not given.
    `chunk_rows` bounds the rows processed at once (device memory); the result
    does not depend on it. The NumPy oracle always makes one pass.
    """
    spec = spec or default_spec()
    missing = {name for name, given in (("depth", depth), ("trades", trades)) if given is None}
    spec = spec.without(missing)
    if not spec.signals:
        raise TickaccelError("signal spec: every signal needs a table that was not given")
    columns = compute_columns(
        Quotes.from_table(table), spec, backend,
        depth=Depth.from_table(depth) if depth is not None else None,
        trades=Trades.from_table(trades) if trades is not None else None,
        chunk_rows=chunk_rows)
    head = [table.column(c) for c in HEAD_COLUMNS if c in table.column_names]
    names = [c for c in HEAD_COLUMNS if c in table.column_names]
    return pa.Table.from_arrays(head + [pa.array(columns[s.name]) for s in spec.signals],
                                names=names + [s.name for s in spec.signals])
