"""The `signals` and `plot` subcommands on a replay-shaped output folder."""
from __future__ import annotations

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
