"""Signal kernel throughput: rows/s and effective GB/s per backend, against a plain copy.

pytest-benchmark part (CPU-reachable backends, host arrays in and out):
    pytest bench/bench_kernels.py --benchmark-only   (BENCH_ROWS=2000000 by default)
Device part (run by bench/gpu_check.sh on a CUDA host): each stage of the CuPy
pipeline on device-resident arrays, timed with CUDA events, against a
device-to-device copy; every stage is measured on its own, a failure is that
stage's "error" in the JSON, and the JSON is rewritten after every stage:
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


class Report:
    """The results JSON, rewritten after every stage so that a crash or timeout keeps what was measured."""

    def __init__(self, path: str, budget_s: float) -> None:
        self.path, self.data = path, {}
        self.deadline = time.monotonic() + budget_s

    def save(self) -> None:
        with open(self.path, "w") as out:
            json.dump(self.data, out, indent=2)

    def stage(self, section: str, name: str, measure) -> None:
        """Run `measure()` (a dict of figures) into data[section][name]; an exception or an
        exhausted time budget becomes that stage's one-line "error" and the run goes on."""
        entries = self.data.setdefault(section, {})
        if time.monotonic() > self.deadline:
            entries[name] = {"error": "skipped: bench time budget spent"}
        else:
            try:
                entries[name] = measure()
            except Exception as exc:  # recorded per stage, never fatal to the run
                message = " ".join(str(exc).split())[:300]
                entries[name] = {"error": f"{type(exc).__name__}: {message}"}
        self.save()
        print(f"{section}/{name}: {entries[name]}", flush=True)


# Bytes per grouped row, (floor, moved): floor = each input column read once and each output
# written once, the least any implementation moves; moved = what these kernels move by design
# (the two-pass scans read their inputs twice). The fraction of copy is taken on the floor, so
# extra passes show as a lower fraction. Gathers through G are coalesced here (G = identity,
# as for a feed sorted by symbol), an upper bound for interleaved feeds.
STAGE_BYTES = {
    # G 8, locate 4, bid 4, ask 4, sizes 16 in; mid, spread, bps, micro, imbalance, ofi, ofi_g out
    "rows (quote signals + ofi)": (36 + 7 * 8, 36 + 7 * 8),
    # G 8, locate 4, ts 8, bid 4, ask 4 in, ema out; reduce and apply each read the inputs
    "ema (fused reduce + apply)": (28 + 8, 2 * 28 + 8),
    # G 8, locate 4, bid 4, ask 4 in; r2 grouped and r2 feed out
    "realized_terms (fused reduce + apply)": (20 + 16, 2 * 20 + 16),
    # hi, lo in and out, in place
    "scan_dd (double-double prefix)": (32, 2 * 16 + 16),
    # G 8, start 8, hi + lo 16 in, out 8 (the hi/lo at the window start: a cached gather)
    "window_dd": (40, 40),
    # G 8, start 8, prefix 8 in, out 8
    "window_int": (32, 32),
    # ofi_g in, prefix out
    "cumsum int64 (CUB)": (16, 16),
    # query key 8 in, index 8 out (the searched keys: log2(n) cached probes)
    "searchsorted (window starts)": (16, 16),
    # locate 4 in, G 8 out; a radix sort makes several passes: reported, not hidden
    "argsort stable (CUB radix sort)": (12, 12),
    # G 8 in, locate gathered 4, locg 4 out
    "gather locg = loc[G]": (16, 16),
}


def _device_report(report: Report, rows: int) -> None:
    """Each stage of the CuPy pipeline on `rows` device-resident grouped rows, vs a device-to-device copy."""
    import cupy as cp

    from tickaccel.kernels.cuda_cupy import CupyKernels
    from tickaccel.kernels.pipeline import SymbolState, _key

    def timed(fn, repeat: int = 5) -> float:
        """Median seconds of `repeat` runs after a warm-up, timed with CUDA events."""
        fn()
        times = []
        for _ in range(repeat):
            start, stop = cp.cuda.Event(), cp.cuda.Event()
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(cp.cuda.get_elapsed_time(start, stop) / 1e3)
        return float(np.median(times))

    info = report.data.setdefault("device", {"rows": rows})
    info["device"] = cp.cuda.runtime.getDeviceProperties(0)["name"].decode()
    def copy_bandwidth() -> float:
        big = cp.random.default_rng(0).random(rows)  # rows * 8 bytes: 0.8 GB at 10^8 rows
        return 2 * big.nbytes / timed(lambda: big.copy()) / 1e9

    info["copy_GBps"] = copy_gbs = copy_bandwidth()
    report.save()

    ks = CupyKernels()
    rng = cp.random.default_rng(1)
    loc = cp.sort(rng.integers(1, 8000, rows, dtype=cp.int32))  # grouped, as the pipeline sees it
    G = cp.arange(rows, dtype=cp.int64)
    ts = cp.cumsum(rng.integers(0, 400, rows, dtype=cp.int64))
    bid = (rng.integers(100, 200, rows, dtype=cp.int64) * 10000).astype(cp.uint32)
    bid[rng.random(rows) < 0.01] = 0  # empty sides now and then, as in a feed
    ask = bid + cp.uint32(100)
    bsz = rng.integers(1, 5000, rows, dtype=cp.int64)
    asz = rng.integers(1, 5000, rows, dtype=cp.int64)
    spec = default_spec()
    st = SymbolState.empty(cp, spec)
    y, w = st.ema["ema_mid_1s"]
    no_halo = cp.zeros(1, cp.int64), cp.zeros(1)
    outs = {name: cp.empty(rows, cp.int64 if "ofi" in name else cp.float64)
            for name in ("mid", "spread", "spread_bps", "microprice", "imbalance", "ofi", "ofi_grouped")}
    ofi_g, r2_g, r2, out, out_int = outs["ofi_grouped"], cp.empty(rows), cp.empty(rows), cp.empty(rows), cp.empty(rows, cp.int64)
    keyg = _key(cp, loc, ts)
    query = _key(cp, loc, cp.maximum(ts - 999_999, 0))
    start = cp.searchsorted(keyg, query)
    hi, lo = cp.random.default_rng(2).random(rows) * 1e-6, cp.zeros(rows)
    # Scans run in place on the same arrays every time: the same work, no copy inside the timing.
    calls = {
        "rows (quote signals + ofi)": lambda: ks.rows(G, 0, loc, bid, ask, bsz, asz, no_halo[0], st, outs),
        "ema (fused reduce + apply)": lambda: ks.ema(G, 0, loc, ts, bid, ask, st, y, w, 10**9, out),
        "realized_terms (fused reduce + apply)":
            lambda: ks.realized_terms(G, 0, loc, bid, ask, st, no_halo[1], r2_g, r2),
        "scan_dd (double-double prefix)": lambda: ks.scan_dd(hi, lo),
        "window_dd": lambda: ks.window_dd(G, 0, start, hi, lo, out),
        "window_int": lambda: ks.window_int(G, 0, start, ofi_g, out_int),
        "cumsum int64 (CUB)": lambda: cp.cumsum(ofi_g),
        "searchsorted (window starts)": lambda: cp.searchsorted(keyg, query),
        "argsort stable (CUB radix sort)": lambda: cp.argsort(loc, kind="stable"),
        "gather locg = loc[G]": lambda: loc[G],
    }

    def measure(name):
        def figures():
            seconds = timed(calls[name])
            floor, moved = STAGE_BYTES[name]
            return {"seconds": seconds, "rows_per_s": rows / seconds, "floor_bytes_per_row": floor,
                    "moved_bytes_per_row": moved, "GBps": floor * rows / seconds / 1e9,
                    "fraction_of_copy": floor * rows / seconds / 1e9 / copy_gbs}
        return figures

    for name in calls:
        report.stage("kernels", name, measure(name))


def _pipeline_report(report: Report, rows: int, backends: list[str]) -> None:
    """End-to-end compute (host columns in, host columns out) per backend, each on its own."""
    q, trades, spec = _feed(rows)

    def measure(backend):
        def figures():
            compute_columns(q, spec, backend, trades=trades)  # compile and warm caches
            start = time.perf_counter()
            compute_columns(q, spec, backend, trades=trades)
            seconds = time.perf_counter() - start
            return {"seconds": seconds, "rows_per_s": rows / seconds,
                    "GBps": _bytes(q, spec, len(spec.signals)) / seconds / 1e9}
        return figures

    for backend in backends:
        report.stage("pipeline", backend, measure(backend))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--device", action="store_true", help="time each CuPy stage on the GPU")
    parser.add_argument("--pipeline", nargs="*", default=[], help="backends to time end to end")
    parser.add_argument("--pipeline-rows", type=int, default=10_000_000)
    parser.add_argument("--budget-s", type=float, default=float("inf"),
                        help="start no stage after this many seconds (it is recorded as skipped)")
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    report = Report(args.json, args.budget_s)
    report.save()
    if args.device:
        report.stage("setup", "device", lambda: _device_report(report, args.rows) or {"ok": True})
    if args.pipeline:
        report.stage("setup", "pipeline", lambda: _pipeline_report(report, args.pipeline_rows, args.pipeline)
                     or {"ok": True})


if __name__ == "__main__":
    main()
