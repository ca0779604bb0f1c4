"""Signal kernels: hand-checked cases, every backend against the NumPy oracle, chunking."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tickaccel.kernels.testing import assert_same_signals, small_bbo, small_depth, small_trades
from tickaccel.errors import BackendUnavailable, TickaccelError
from tickaccel.kernels import (
    available_backends,
    compute,
    default_spec,
    load_spec,
    parse_spec,
)
from tickaccel.kernels.synthetic import synthetic_bbo, synthetic_depth, synthetic_trades

HOST_BACKENDS = [b for b in ("cpu", "opencl") if available_backends()[b] is None]
cupy_missing = available_backends()["cupy"]


def spec_of(*entries: dict):
    return parse_spec({"signal": list(entries)})


def column(table, name):
    return table.column(name).to_numpy()


# --- hand-checked cases -------------------------------------------------------------------

def test_quote_signals_of_one_row_and_nan_on_empty_side():
    table = small_bbo([(1, 1, 1_000_000, 1_000_200, 300, 100), (2, 1, 0, 1_000_200, 0, 100)])
    out = compute(table, spec_of(*[{"kind": k} for k in
                                   ("mid", "spread", "spread_bps", "microprice", "imbalance")]), "cpu")
    assert column(out, "mid")[0] == 100.01
    assert column(out, "spread")[0] == pytest.approx(0.02, rel=1e-15)
    assert column(out, "spread_bps")[0] == pytest.approx(0.02 / 100.01 * 1e4, rel=1e-14)
    assert column(out, "microprice")[0] == pytest.approx((100.0 * 100 + 100.02 * 300) / 400, rel=1e-15)
    assert column(out, "imbalance")[0] == 0.5
    assert all(np.isnan(column(out, k)[1]) for k in out.column_names[4:])


def test_ofi_of_three_rows_matches_hand_computation():
    # Row 2: bid size 10 -> 12 at the same price (+2), ask unchanged (0)        => +2
    # Row 3: bid price up (+ new size 7), ask price down (- new size 4)        => +3
    table = small_bbo([(1, 5, 100, 102, 10, 5), (2, 5, 100, 102, 12, 5), (3, 5, 101, 101, 7, 4)])
    for backend in ["numpy"] + HOST_BACKENDS:
        out = compute(table, spec_of({"kind": "ofi"}, {"kind": "ofi_sum", "window_ns": 2}), backend)
        assert list(column(out, "ofi")) == [0, 2, 7 - 4]
        assert list(column(out, "ofi_sum")) == [0, 2, 2 + 3]


def test_ofi_counts_an_emptied_ask_as_supply_removed():
    table = small_bbo([(1, 1, 100, 102, 10, 5), (2, 1, 100, 0, 10, 0)])
    out = compute(table, spec_of({"kind": "ofi"}), "cpu")
    assert list(column(out, "ofi")) == [0, 5]


def test_ema_decays_by_half_over_one_half_life_and_holds_through_empty_side():
    table = small_bbo([(0, 1, 1_000_000, 1_000_000, 1, 1), (1000, 1, 1_200_000, 1_200_000, 1, 1),
                       (1500, 1, 0, 1_200_000, 0, 1), (2000, 1, 1_200_000, 1_200_000, 1, 1)])
    for backend in ["numpy"] + HOST_BACKENDS:
        ema = column(compute(table, spec_of({"kind": "ema_mid", "half_life_ns": 1000}), backend), "ema_mid")
        assert ema[0] == 100.0
        assert ema[1] == pytest.approx(110.0, rel=1e-14)
        assert ema[2] == pytest.approx(110.0, rel=1e-14)
        # Both halves of the last half-life decay (y, w) = (110, 1); only the valid half adds 120.
        d = math.sqrt(0.5)
        assert ema[3] == pytest.approx((0.5 * 110 + (1 - d) * 120) / (0.5 + (1 - d)), rel=1e-13)


def test_realized_variance_sums_squared_log_returns_in_window():
    table = small_bbo([(0, 1, 100, 100, 1, 1), (10, 1, 110, 110, 1, 1), (20, 1, 0, 110, 0, 1),
                       (30, 1, 99, 99, 1, 1)])
    for backend in ["numpy"] + HOST_BACKENDS:
        rv = column(compute(table, spec_of({"kind": "realized_variance", "window_ns": 25}), backend),
                    "realized_variance")
        r1, r3 = math.log(1.1) ** 2, math.log(0.9) ** 2
        np.testing.assert_allclose(rv, [0.0, r1, r1, r1 + r3], rtol=1e-14)  # (5, 30] holds rows 2-4


def test_trade_windows_are_as_of_the_bbo_row_and_signed_by_aggressor():
    bbo = small_bbo([(10, 1, 100, 101, 1, 1), (20, 1, 100, 101, 1, 1), (40, 1, 100, 101, 1, 1)])
    trades = small_trades([(1, 10, 1, "E", "B", 1_000_000, 100), (2, 20, 1, "C", "S", 1_010_000, 300),
                           (2, 20, 2, "E", "S", 5, 7), (3, 30, 1, "Q", " ", 1_020_000, 600)])
    spec = spec_of({"kind": "trade_vwap", "window_ns": 15}, {"kind": "trade_imbalance", "window_ns": 15})
    for backend in ["numpy"] + HOST_BACKENDS:
        out = compute(bbo, spec, backend, trades=trades)
        np.testing.assert_allclose(column(out, "trade_vwap"),
                                   [100.0, (100.0 * 100 + 101.0 * 300) / 400, 102.0], rtol=1e-15)
        imbalance = column(out, "trade_imbalance")
        assert list(imbalance[:2]) == [-1.0, 0.5] and np.isnan(imbalance[2])


def test_trade_windows_ignore_non_printable_executions_and_broken_trades():
    """A non-printable C and a B row (price and shares 0) change neither VWAP nor imbalance."""
    bbo = small_bbo([(10, 1, 100, 101, 1, 1), (20, 1, 100, 101, 1, 1)])
    printable = [(1, 10, 1, "E", "B", 1_000_000, 100), (2, 20, 1, "P", "S", 1_010_000, 300)]
    counted = small_trades(printable)
    with_others = small_trades([printable[0], (1, 10, 1, "C", "S", 2_000_000, 5_000, False),
                                printable[1], (2, 20, 1, "B", " ", 0, 0)])
    spec = spec_of({"kind": "trade_vwap", "window_ns": 100}, {"kind": "trade_imbalance", "window_ns": 100})
    for backend in ["numpy"] + HOST_BACKENDS:
        want = compute(bbo, spec, backend, trades=counted)
        got = compute(bbo, spec, backend, trades=with_others)
        assert_same_signals(want, got)
        np.testing.assert_allclose(column(got, "trade_vwap"),
                                   [100.0, (100.0 * 100 + 101.0 * 300) / 400], rtol=1e-15)


def test_depth_imbalance_uses_latest_depth_row_and_weights():
    bbo = small_bbo([(1, 1, 1_000_000, 1_010_000, 10, 30), (2, 2, 1, 2, 1, 1), (3, 1, 1_000_000, 1_010_000, 10, 30)])
    depth = small_depth([(1, 1, 1, [10, 20], [30, 0]), (2, 2, 2, [0, 1], [1, 1]),
                         (3, 3, 1, [10, 20], [30, 40])])
    spec = spec_of({"kind": "depth_imbalance", "weights": [1.0, 0.5]})
    for backend in ["numpy"] + HOST_BACKENDS:
        out = column(compute(bbo, spec, backend, depth=depth), "depth_imbalance")
        assert out[0] == pytest.approx((10 - 30 + 0.5 * 20) / (10 + 30 + 0.5 * 20), rel=1e-15)
        assert np.isnan(out[1])  # empty bid level 1
        assert out[2] == pytest.approx((10 - 30 + 0.5 * (20 - 40)) / (40 + 0.5 * 60), rel=1e-15)


# --- spec and backend selection ----------------------------------------------------------

def test_default_spec_loads_from_toml(tmp_path):
    assert "ema_mid_1s" in [s.name for s in default_spec().signals]
    path = tmp_path / "spec.toml"
    path.write_text('[[signal]]\nname = "fast"\nkind = "ema_mid"\nhalf_life_ns = 5\n')
    assert load_spec(path).signals[0].half_life_ns == 5


@pytest.mark.parametrize("entry", [{"kind": "nope"}, {"kind": "ofi_sum"}, {"kind": "mid", "window_ns": 3}])
def test_bad_spec_entries_are_one_clear_error(entry):
    with pytest.raises(TickaccelError):
        parse_spec({"signal": [entry]})


@pytest.mark.skipif(cupy_missing is None, reason="a CUDA device is present")
def test_absent_backend_raises_backend_unavailable_naming_the_cause():
    with pytest.raises(BackendUnavailable, match="cupy"):
        compute(small_bbo([(1, 1, 1, 2, 1, 1)]), backend="cupy")


def test_opencl_device_that_cannot_build_the_kernels_is_reported_unavailable(monkeypatch):
    # PoCL on a virtual CPU its compiler does not know has a device but builds nothing: the probe
    # builds the kernels and names the compiler's error, so `opencl` is unavailable, not broken
    pytest.importorskip("pyopencl")
    from tickaccel.kernels import opencl

    def no_build():
        raise RuntimeError("clBuildProgram failed:\n  error: unknown target CPU 'generic'")

    monkeypatch.setattr(opencl, "_program", no_build)
    reason = opencl.unavailable_reason()
    assert reason == "no usable OpenCL device: clBuildProgram failed: error: unknown target CPU 'generic'"
    with pytest.raises(BackendUnavailable, match="unknown target CPU"):
        compute(small_bbo([(1, 1, 1, 2, 1, 1)]), backend="opencl")


def test_unordered_timestamps_are_rejected():
    with pytest.raises(TickaccelError, match="must not decrease"):
        compute(small_bbo([(5, 1, 1, 2, 1, 1), (4, 1, 1, 2, 1, 1)]), backend="cpu")


# --- differential: every backend against the oracle --------------------------------------

@pytest.fixture(scope="module")
def feed():
    bbo = synthetic_bbo(4000, n_symbols=30, seed=7, gap_ns=200_000, jump_every=1500)
    return bbo, synthetic_depth(bbo), synthetic_trades(bbo)


@pytest.fixture(scope="module")
def oracle(feed):
    bbo, depth, trades = feed
    return compute(bbo, backend="numpy", depth=depth, trades=trades)


@pytest.mark.parametrize("backend", HOST_BACKENDS)
def test_backend_matches_oracle_on_synthetic_feed(backend, feed, oracle):
    bbo, depth, trades = feed
    assert_same_signals(oracle, compute(bbo, backend=backend, depth=depth, trades=trades))


CHUNKINGS = [("cpu", 5), ("cpu", 97), ("cpu", 1199), ("opencl", 400)]


@pytest.mark.parametrize("backend,chunk_rows", [c for c in CHUNKINGS if c[0] in HOST_BACKENDS])
def test_chunked_equals_one_pass(backend, chunk_rows, feed):
    bbo, depth, trades = (t.slice(0, 1200) for t in feed)
    one_pass = compute(bbo, backend=backend, depth=depth, trades=trades)
    assert_same_signals(one_pass, compute(bbo, backend=backend, depth=depth, trades=trades,
                                          chunk_rows=chunk_rows))


@pytest.mark.gpu
@pytest.mark.skipif(cupy_missing is not None, reason=f"cupy backend: {cupy_missing}")
@pytest.mark.parametrize("chunk_rows", [None, 1000, 3999])
def test_cupy_matches_oracle(chunk_rows, feed, oracle):
    bbo, depth, trades = feed
    assert_same_signals(oracle, compute(bbo, backend="cupy", depth=depth, trades=trades,
                                        chunk_rows=chunk_rows))


@pytest.mark.gpu
@pytest.mark.skipif(available_backends()["numba-cuda"] is not None or cupy_missing is not None,
                    reason="numba-cuda on a real GPU: no CUDA device")
def test_numba_cuda_on_gpu_matches_oracle(feed, oracle):
    bbo, depth, trades = feed
    assert_same_signals(oracle, compute(bbo, backend="numba-cuda", depth=depth, trades=trades,
                                        chunk_rows=1500))


DEVICE_BACKENDS = [b for b in ("opencl", "cupy") if available_backends()[b] is None]


@pytest.mark.parametrize("backend", DEVICE_BACKENDS)
def test_device_scans_over_several_tiles_match_the_sequential_recurrence(backend):
    """Tile aggregates are themselves reduced and scanned (several tiles of several tiles)."""
    from tickaccel.kernels import _device_kernels

    ks = _device_kernels(backend)
    rng = np.random.default_rng(5)
    n = 3 * ks.scan_block * ks.scan_items + 7
    a, b, c = rng.random(n), rng.random(n) - 0.5, rng.random(n)
    a[rng.random(n) < 0.01] = 0.0  # segment heads
    b_scan, c_scan = ks.asarray(b.copy()), ks.asarray(c.copy())  # scanned in place
    ks.scan_affine(ks.asarray(a), b_scan, c_scan)
    hi, lo = ks.asarray(b.copy()), ks.xp.zeros(n)
    ks.scan_dd(hi, lo)
    yb = yc = 0.0
    want_b, want_c = np.empty(n), np.empty(n)
    for k in range(n):
        yb, yc = a[k] * yb + b[k], a[k] * yc + c[k]
        want_b[k], want_c[k] = yb, yc
    np.testing.assert_allclose(ks.to_host(b_scan), want_b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ks.to_host(c_scan), want_c, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ks.to_host(hi) + ks.to_host(lo), [math.fsum(b[:k + 1]) for k in range(n)],
                               rtol=0, atol=1e-13)


PRICES = st.sampled_from([0, 999_900, 1_000_000, 1_000_100, 1_000_200])
# the largest gap 2 000 s: forty of them stay inside a day of nanoseconds, as ITCH timestamps do
# (the kernels refuse 2**47 and above, which 10**13 gaps could reach)
GAPS = st.sampled_from([0, 0, 1, 1000, 999_999, 2 * 10**12])


@st.composite
def feeds(draw):
    """Small feeds with empty sides, single-row symbols, equal timestamps and huge gaps."""
    n = draw(st.integers(1, 40))
    gaps = draw(st.lists(GAPS, min_size=n, max_size=n))
    ts = np.cumsum(gaps) + 1
    rows = []
    for t in ts:
        bid = draw(PRICES)
        ask = draw(st.sampled_from([0, bid + 100, bid + 300])) if bid else draw(PRICES)
        rows.append((int(t), draw(st.sampled_from([1, 2, 3, 9, 65535])), bid, ask,
                     draw(st.integers(0, 500)) if bid else 0, draw(st.integers(0, 500)) if ask else 0))
    bbo = small_bbo(rows)
    picks = [i for i in range(n) if draw(st.booleans())]
    trades = small_trades([(i + 1, rows[i][0], rows[i][1], draw(st.sampled_from("ECPQ")),
                            draw(st.sampled_from("BS")), draw(PRICES) or 1, draw(st.integers(1, 900)))
                           for i in picks]) if picks else None
    depth = small_depth([(i + 1, rows[i][0], rows[i][1], draw(st.lists(st.integers(0, 50), min_size=3, max_size=3)),
                          draw(st.lists(st.integers(0, 50), min_size=3, max_size=3))) for i in range(n)])
    return bbo, depth, trades, draw(st.integers(1, n))


FUZZ_SPEC = parse_spec({"signal": [
    {"kind": "mid"}, {"kind": "microprice"}, {"kind": "imbalance"}, {"kind": "ofi"},
    {"name": "ofi_sum", "kind": "ofi_sum", "window_ns": 1000},
    {"name": "ema", "kind": "ema_mid", "half_life_ns": 1_000_000},
    {"name": "rv", "kind": "realized_variance", "window_ns": 2_000_000},
    {"name": "vwap", "kind": "trade_vwap", "window_ns": 1001},
    {"name": "timb", "kind": "trade_imbalance", "window_ns": 5_000_000},
    {"kind": "depth_imbalance", "weights": [1.0, 0.3, 0.1]},
]})


@pytest.mark.parametrize("backend,examples", [(b, {"cpu": 30, "opencl": 12}[b]) for b in HOST_BACKENDS])
def test_backend_matches_oracle_on_generated_feeds(backend, examples):
    """Chunk boundaries fall anywhere: inside one symbol's run, between equal timestamps."""

    @settings(max_examples=examples, deadline=None)
    @given(case=feeds())
    def check(case):
        bbo, depth, trades, chunk_rows = case
        expected = compute(bbo, FUZZ_SPEC, "numpy", depth=depth, trades=trades)
        assert_same_signals(expected, compute(bbo, FUZZ_SPEC, backend, depth=depth, trades=trades))
        assert_same_signals(expected, compute(bbo, FUZZ_SPEC, backend, depth=depth, trades=trades,
                                              chunk_rows=chunk_rows))

    check()


WINDOW_SPEC = parse_spec({"signal": [
    {"name": "ofi_sum_short", "kind": "ofi_sum", "window_ns": 3_000_000},
    {"name": "ofi_sum_long", "kind": "ofi_sum", "window_ns": 40_000_000},
    {"name": "rv_short", "kind": "realized_variance", "window_ns": 2_000_000},
    {"name": "rv_long", "kind": "realized_variance", "window_ns": 50_000_000},
    {"name": "vwap", "kind": "trade_vwap", "window_ns": 5_000_000},
    {"name": "timb", "kind": "trade_imbalance", "window_ns": 30_000_000},
    {"name": "ema_fast", "kind": "ema_mid", "half_life_ns": 100_000},
    {"name": "ema_slow", "kind": "ema_mid", "half_life_ns": 10_000_000},
]})


@pytest.mark.parametrize("chunk_rows", [None, 7, 1024])
def test_cpu_windows_that_keep_emptying_match_oracle_across_chunks(chunk_rows):
    """Many symbols, windows from a few rows to hundreds, rows leaving them all the time."""
    bbo = synthetic_bbo(3000, n_symbols=300, seed=13, gap_ns=100_000, jump_every=700)
    trades = synthetic_trades(bbo, fraction=0.6)
    expected = compute(bbo, WINDOW_SPEC, "numpy", trades=trades)
    assert_same_signals(expected, compute(bbo, WINDOW_SPEC, "cpu", trades=trades, chunk_rows=chunk_rows))
