"""The RTL feed handler against the host model: generated feeds with faults, every record and counter."""
from __future__ import annotations

import json

import pytest

from tickaccel.sim import model, runner

pytestmark = pytest.mark.skipif(not runner.available_simulators(),
                                reason="no HDL simulator (iverilog or verilator) installed")


def _run(tmp_path, data_width: int, frames: list[model.Frame], testcase: str, **env: str) -> None:
    stimulus = tmp_path / "stimulus.pkl"
    model.write_stimulus(stimulus, frames)
    runner.run("feed_handler", "tb_feed_handler", {"DATA_WIDTH": data_width}, testcase=testcase,
               env={"TB_STIMULUS": str(stimulus), "TB_DATA_WIDTH": str(data_width), **env})


def test_faulty_feed_matches_host_under_idle_and_backpressure(tmp_path):
    frames = model.feed_frames(3000, seed=11, fault_rate=0.5)
    _run(tmp_path, 64, frames, "test_feed_matches_model", TB_IDLE="1", TB_BACKPRESSURE="1")


def test_clean_feed_runs_at_line_rate(tmp_path):
    frames = model.feed_frames(1500, seed=2)
    figures = tmp_path / "figures.json"
    _run(tmp_path, 64, frames, "test_measure_throughput_and_latency", TB_MEASURE=str(figures))
    measured = json.loads(figures.read_text())
    assert measured["beats_per_cycle"] == 1.0
    assert measured["latency_max"] <= 5


def test_registers_and_disabled_filter(tmp_path):
    frames = model.feed_frames(200, seed=3, n_symbols=5)
    _run(tmp_path, 64, frames, "test_registers_read_back,test_disabled_handler_passes_nothing")


@pytest.mark.slow
@pytest.mark.parametrize("data_width", [32, 64, 128])
def test_faulty_feed_matches_host_at_every_width(tmp_path, data_width):
    frames = model.feed_frames(20000, seed=data_width, fault_rate=0.3)
    _run(tmp_path, data_width, frames, "test_feed_matches_model", TB_IDLE="1", TB_BACKPRESSURE="1",
         TB_SEED=str(data_width))


@pytest.mark.slow
def test_million_message_feed_matches_host(tmp_path):
    frames = model.feed_frames(1_000_000, seed=7, fault_rate=0.02, n_symbols=500)
    _run(tmp_path, 64, frames, "test_feed_matches_model")
