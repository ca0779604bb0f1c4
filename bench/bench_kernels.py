"""Signal kernel throughput: rows/s and effective GB/s per backend, against a plain copy.

pytest-benchmark part (CPU-reachable backends, host arrays in and out):
    pytest bench/bench_kernels.py --benchmark-only   (BENCH_ROWS=2000000 by default)
Device part (run by bench/gpu_check.sh on a CUDA host): each CuPy kernel on
device-resident arrays, timed with CUDA events, against a device-to-device copy:
    python bench/bench_kernels.py --device --rows 100000000 --json out.json
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import pytest

from tickaccel.kernels import available_backends, compute_columns, default_spec
from tickaccel.kernels.columns import Quotes, Trades
from tickaccel.kernels.synthetic import synthetic_bbo, synthetic_trades

ROWS = int(os.environ.get("BENCH_ROWS", 2_000_000))
INPUT_BYTES_PER_ROW = 8 + 8 + 4 + 4 + 4 + 8 + 8  # seq, ts, locate, bid, ask, bid/ask size


def _feed(rows: int):
    bbo = synthetic_bbo(rows, n_symbols=8000, seed=11, gap_ns=200)
    spec = default_spec().without({"depth"})
    return Quotes.from_table(bbo), Trades.from_table(synthetic_trades(bbo)), spec


def _bytes(q: Quotes, spec, out_columns: int) -> int:
    return len(q) * (INPUT_BYTES_PER_ROW + 8 * out_columns)


@pytest.fixture(scope="module")
def feed():
    return _feed(ROWS)


def test_numpy_copy_of_the_same_bytes(benchmark, feed):
    q, _, spec = feed
    buffer = np.ones(_bytes(q, spec, len(spec.signals)) // 16, np.float64)  # read + write = bytes
    benchmark(buffer.copy)
    benchmark.extra_info["GB/s"] = 2 * buffer.nbytes / benchmark.stats["mean"] / 1e9


@pytest.mark.parametrize("backend", [b for b in ("cpu", "opencl", "cupy", "numba-cuda")
                                     if available_backends()[b] is None])
def test_signals_throughput(benchmark, feed, backend):
    q, trades, spec = feed
    compute_columns(q, spec, backend, trades=trades)  # compile and warm caches
    benchmark.pedantic(compute_columns, args=(q, spec, backend), kwargs={"trades": trades},
                       rounds=3, iterations=1)
    benchmark.extra_info["rows/s"] = len(q) / benchmark.stats["mean"]
    benchmark.extra_info["GB/s"] = _bytes(q, spec, len(spec.signals)) / benchmark.stats["mean"] / 1e9


def _device_report(rows: int) -> dict:
    """Each CuPy kernel on device arrays of `rows` grouped rows, vs a device-to-device copy."""
    import cupy as cp

    from tickaccel.kernels.cuda_cupy import CupyKernels
    from tickaccel.kernels.pipeline import SymbolState

    ks = CupyKernels()
    rng = cp.random.default_rng(1)
    locate = cp.sort(rng.integers(1, 8000, rows, dtype=cp.int32))  # grouped, as the pipeline sees it
    G = cp.arange(rows, dtype=cp.int64)
    ts = cp.cumsum(rng.integers(0, 400, rows, dtype=cp.int64))
    bid = (rng.integers(100, 200, rows, dtype=cp.int64) * 10000).astype(cp.uint32)
    ask = bid + cp.uint32(100)
    bsz = rng.integers(1, 5000, rows, dtype=cp.int64)
    asz = rng.integers(1, 5000, rows, dtype=cp.int64)
    spec = default_spec()
    st = SymbolState.empty(cp, spec)
    y, w = st.ema["ema_mid_1s"]
    outs = [cp.empty(rows) for _ in range(5)]

    def timed(fn, repeat: int = 3) -> float:
        fn()
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        for _ in range(repeat):
            fn()
        stop.record()
        stop.synchronize()
        return cp.cuda.get_elapsed_time(start, stop) / 1e3 / repeat

    big = cp.ones(rows * 8, cp.uint8).view(cp.float64)  # rows * 8 bytes: 0.8 GB at 10^8 rows
    copy_s = timed(lambda: big.copy())
    copy_gbs = 2 * big.nbytes / copy_s / 1e9
    ofi, lva, lvb, lvc = ks.terms(G, 0, locate, bid, ask, bsz, asz, cp.zeros(1, cp.int64), st)
    a, b, c = ks.ema_elems(G, 0, locate, ts, bid, ask, st, y, w, 10**9)
    r2 = ks.rv_terms(G, 0, locate, bid, ask, lvb, lvc, st, cp.zeros(1))
    hi, lo = r2.copy(), cp.zeros(rows)
    start = cp.maximum(G - 100, 0)
    n8 = rows * 8
    # name: (call, bytes the kernel must read + write); the copy's figure counts read + write too.
    # G is the identity here, so the gathers through G are coalesced: an upper bound for real feeds.
    kernels = {
        "quote": (lambda: ks.quote(bid, ask, bsz, asz, outs), rows * (4 + 4 + 8 + 8) + 5 * n8),
        "terms": (lambda: ks.terms(G, 0, locate, bid, ask, bsz, asz, cp.zeros(1, cp.int64), st),
                  rows * (8 + 4 + 24) + 4 * n8),
        "ema_elems": (lambda: ks.ema_elems(G, 0, locate, ts, bid, ask, st, y, w, 10**9),
                      rows * (8 + 4 + 8 + 8) + 3 * n8),
        # Scans run in place on the same arrays every time (same work): no copy inside the timing.
        "scan_affine (ema)": (lambda: ks.scan_affine(a, b, c), 3 * n8 * 2 + 2 * n8),
        "ema_finish": (lambda: ks.ema_finish(b, c), 3 * n8),
        "rv_terms": (lambda: ks.rv_terms(G, 0, locate, bid, ask, lvb, lvc, st, cp.zeros(1)),
                     rows * (8 + 4 + 8) + 3 * n8),
        "scan_dd": (lambda: ks.scan_dd(hi, lo), 2 * n8 * 2 + 2 * n8),
        "window_dd": (lambda: ks.window_dd(start, hi, lo), 4 * n8),
        # Sort and scan: bytes in + out only; their internal passes are what the fraction shows.
        "argsort (CUB)": (lambda: cp.argsort(locate), rows * 12),
        "cumsum int64 (CUB)": (lambda: cp.cumsum(ofi), 2 * n8),
    }
    report = {"rows": rows, "device": cp.cuda.runtime.getDeviceProperties(0)["name"].decode(),
              "copy_GBps": copy_gbs, "kernels": {}}
    for name, (call, nbytes) in kernels.items():
        seconds = timed(call)
        gbs = nbytes / seconds / 1e9
        report["kernels"][name] = {"seconds": seconds, "GBps": gbs, "fraction_of_copy": gbs / copy_gbs,
                                   "rows_per_s": rows / seconds}
    return report


def _pipeline_report(rows: int, backends: list[str]) -> dict:
    """End-to-end compute (host columns in, host columns out) per backend."""
    q, trades, spec = _feed(rows)
    result = {}
    for backend in backends:
        compute_columns(q, spec, backend, trades=trades)
        start = time.perf_counter()
        compute_columns(q, spec, backend, trades=trades)
        seconds = time.perf_counter() - start
        result[backend] = {"seconds": seconds, "rows_per_s": rows / seconds,
                           "GBps": _bytes(q, spec, len(spec.signals)) / seconds / 1e9}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--device", action="store_true", help="time each CuPy kernel on the GPU")
    parser.add_argument("--pipeline", nargs="*", default=[], help="backends to time end to end")
    parser.add_argument("--pipeline-rows", type=int, default=10_000_000)
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    report = {}
    if args.device:
        report["device"] = _device_report(args.rows)
    if args.pipeline:
        report["pipeline"] = _pipeline_report(args.pipeline_rows, args.pipeline)
    with open(args.json, "w") as out:
        json.dump(report, out, indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
