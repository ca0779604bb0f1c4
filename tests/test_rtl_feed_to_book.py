"""feed_to_book (feed handler + order book) against the models and, as tables, against the software oracle."""
from __future__ import annotations

import dataclasses
import json

import pytest
from rtl import needs_verilator
from tickaccel.feed import generator
from tickaccel.sim import book_runner, model, runner
from tickaccel.hw.params import BookParams

pytestmark = pytest.mark.skipif(not runner.available_simulators(),
                                reason="no HDL simulator (iverilog or verilator) installed")

TEST_PARAMS = BookParams(max_symbols=256, order_bucket_bits=12, order_ways=4, levels=32, top_n=8)


def _run(tmp_path, frames, params: BookParams, simulator: str | None = None, **env: str) -> None:
    stimulus = tmp_path / "stimulus.pkl"
    model.write_stimulus(stimulus, frames)
    book_runner.run("feed_to_book", "tb_feed_to_book", params.verilog(), simulator=simulator,
                    testcase="test_feed_matches_book_model",
                    env={"TB_STIMULUS": str(stimulus),
                         "TB_PARAMS": json.dumps(dataclasses.asdict(params)), **env})


def test_faulty_feed_through_handler_and_book_under_idle_and_backpressure(tmp_path):
    frames = model.inject_faults(model.build_frames(generator.generate(3000, 40, 31).tobytes()), 31, 0.2)
    _run(tmp_path, frames, TEST_PARAMS, TB_IDLE="1", TB_BACKPRESSURE="1")


def test_small_capacities_flag_stale_and_clear_over_axi_lite(tmp_path):
    params = BookParams(max_symbols=64, order_bucket_bits=7, order_ways=2, levels=4, top_n=2)
    frames = model.build_frames(generator.generate(2000, 30, 32).tobytes())
    _run(tmp_path, frames, params, TB_BACKPRESSURE="1")


@pytest.mark.slow
@needs_verilator
def test_million_faulty_messages_through_feed_to_book(tmp_path):
    params = BookParams(max_symbols=4096, order_bucket_bits=16, order_ways=4, levels=64, top_n=8)
    frames = model.inject_faults(model.build_frames(generator.generate(1_000_000, 2000, 33).tobytes()), 33, 0.02)
    _run(tmp_path, frames, params, simulator="verilator")
