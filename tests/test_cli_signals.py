"""The `signals` and `plot` subcommands on a replay-shaped output folder."""
from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from tickaccel.cli import main
from tickaccel.errors import TickaccelError
from tickaccel.cli.signals import run_signals
from tickaccel.kernels.synthetic import synthetic_bbo, synthetic_trades


@pytest.fixture()
def outdir(tmp_path):
    bbo = synthetic_bbo(500, n_symbols=4, seed=5)
    pq.write_table(bbo, tmp_path / "bbo.parquet")
    pq.write_table(synthetic_trades(bbo), tmp_path / "trades.parquet")
    return tmp_path


def test_signals_writes_head_and_signal_columns(outdir, capsys):
    assert main(["signals", str(outdir), "--backend", "cpu"]) == 0
    table = pq.read_table(outdir / "signals.parquet")
    assert table.num_rows == 500
    assert table.column_names[:5] == ["seq", "timestamp", "stock_locate", "symbol", "mid"]
    assert "trade_vwap_10s" in table.column_names and "depth_imbalance" not in table.column_names
    assert "rows/s" in capsys.readouterr().out


def test_run_signals_reports_rows_and_spec_columns(outdir):
    spec = outdir / "spec.toml"
    spec.write_text('[[signal]]\nkind = "ofi"\n')
    result = run_signals(outdir, "numpy", spec)
    assert result["rows"] == 500 and result["columns"] == ["ofi"]


def test_signals_without_bbo_is_one_clear_error(tmp_path):
    with pytest.raises(TickaccelError, match="bbo.parquet"):
        run_signals(tmp_path, "cpu", None)
    assert main(["signals", str(tmp_path)]) == 2


def test_plot_draws_a_png(outdir):
    target = outdir / "plot.png"
    assert main(["plot", str(outdir), "--symbol", "S00001", "-o", str(target)]) == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_of_unknown_symbol_fails_clearly(outdir):
    assert main(["plot", str(outdir), "--symbol", "NOPE"]) == 2


def test_plot_draws_quotes_trades_and_a_window_as_png_and_html(tmp_path):
    from tickaccel.feed.generator import generate

    feed = tmp_path / "feed.itch"
    feed.write_bytes(generate(30_000, n_symbols=40, seed=3).tobytes())
    assert main(["replay", str(feed), "-o", str(tmp_path / "out"), "--trades", "--date", "2026-12-03",
                 "--prices", "float"]) == 0
    target = tmp_path / "aapl.png"
    assert main(["plot", str(tmp_path / "out"), "--symbol", "AAPL", "--from", "09:30", "--to", "12:00",
                 "--window", "2", "-o", str(target), "--html"]) == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = target.with_suffix(".html").read_text()
    assert "plotly" in page and "AAPL" in page and "trades" in page


def test_plot_names_symbols_that_exist_and_refuses_an_empty_window(outdir, capsys):
    assert main(["plot", str(outdir), "--symbol", "NOPE"]) == 2
    assert "4 symbols, e.g. S00001, S00002" in capsys.readouterr().err
    assert main(["plot", str(outdir), "--symbol", "S00001", "--from", "23:59:59"]) == 2
    assert "no rows between" in capsys.readouterr().err


def test_signals_of_a_several_feed_replay_and_of_live_segments(outdir, tmp_path):
    several = tmp_path / "several"
    for name in ("day1", "day2"):
        (several / name).mkdir(parents=True)
        for table in ("bbo", "trades"):
            (several / name / f"{table}.parquet").write_bytes((outdir / f"{table}.parquet").read_bytes())
    assert main(["signals", str(several), "--backend", "numpy"]) == 0
    day1, day2 = (pq.read_table(several / d / "signals.parquet") for d in ("day1", "day2"))
    for name in day1.column_names:  # NaN where a signal is undefined: equal as arrays
        np.testing.assert_array_equal(day1.column(name).to_numpy(zero_copy_only=False),
                                      day2.column(name).to_numpy(zero_copy_only=False))
    assert main(["plot", str(several), "--symbol", "S00001"]) == 2  # which day: it says
    live = tmp_path / "live"
    live.mkdir()
    bbo = pq.read_table(outdir / "bbo.parquet")
    pq.write_table(bbo.slice(0, 200), live / "bbo-000000.parquet")
    pq.write_table(bbo.slice(200), live / "bbo-000001.parquet")
    assert main(["signals", str(live), "--backend", "numpy"]) == 0
    assert pq.read_table(live / "signals.parquet").num_rows == bbo.num_rows
    assert main(["plot", str(live), "--symbol", "S00001"]) == 0
