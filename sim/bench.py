"""Pieces every cocotb testbench here shares: clock and reset, stimulus and model, pauses, offsets."""
from __future__ import annotations

import itertools
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge
from cocotbext.axi import AxiStreamFrame

from tickaccel.sim import model

CLOCK_NS = 6.4  # 156.25 MHz


def setting(name: str, default: str) -> str:
    return os.environ.get(name, default)


async def start(dut) -> None:
    """Start the clock and hold reset for a few cycles."""
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)


def stimulus() -> tuple[list[model.Frame], model.ModelResult]:
    """The frames of TB_STIMULUS and what the model makes of them at TB_DATA_WIDTH."""
    frames = model.read_stimulus(os.environ["TB_STIMULUS"])
    return frames, model.FeedHandlerModel(data_width()).run(frames)


def data_width() -> int:
    return int(setting("TB_DATA_WIDTH", "64"))


def pauses(seed: int, fraction: float):
    rng = random.Random(seed)
    return (rng.random() < fraction for _ in itertools.count())


def random_stalls(source, sink) -> None:
    """Random idle cycles on `source` with TB_IDLE=1 (a share TB_IDLE_SHARE of the cycles, default
    0.3) and backpressure on `sink` with TB_BACKPRESSURE=1, seeded by TB_SEED."""
    seed = int(setting("TB_SEED", "1"))
    if setting("TB_IDLE", "0") == "1":
        source.set_pause_generator(pauses(seed, float(setting("TB_IDLE_SHARE", "0.3"))))
    if setting("TB_BACKPRESSURE", "0") == "1":
        sink.set_pause_generator(pauses(seed + 1, 0.5))


def offset_frame(data: bytes, lead: int, error: bool = False, tail: int = 0) -> AxiStreamFrame:
    """``data`` behind ``lead`` null lanes (as the filter sends a payload), then ``tail`` junk bytes."""
    keep = [0] * lead + [1] * (len(data) + tail)
    return AxiStreamFrame(bytes(lead) + data + b"\xa5" * tail, tkeep=keep, tuser=int(error))


def count_strobes(dut, names: list[str]) -> dict[str, int]:
    """Start counting cycles with each 1-bit stat_* output high; returns the live tallies."""
    tally = {name: 0 for name in names}

    async def watch() -> None:
        signals = [(name, getattr(dut, f"stat_{name}")) for name in names]
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            for name, signal in signals:
                value = int(signal.value)
                if value:
                    tally[name] += value

    cocotb.start_soon(watch())
    return tally
