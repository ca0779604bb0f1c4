"""cocotb testbench of feed_handler: generated feeds, frames in, records out, against `model`.

Settings come from the environment (set by the pytest caller through
`runner.run`): TB_DATA_WIDTH, TB_STIMULUS (a pickle of the `model.Frame`
list, made by `model.write_stimulus` outside the simulator so the generator's
Numba code is not compiled in it), TB_SEED, TB_IDLE and TB_BACKPRESSURE
(random pauses on s_axis / m_axis), TB_MEASURE (a path: write throughput and
latency figures there as JSON).
"""
from __future__ import annotations

import itertools
import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, with_timeout
from cocotbext.axi import (AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamFrame, AxiStreamSink,
                           AxiStreamSource)

from tickaccel.schema import csr, records
from tickaccel.sim import model
from tickaccel.sim.bench import random_stalls, setting

CLOCK_NS = 6.4  # 156.25 MHz
# Every wait for the RTL gives up after a budget of simulated time, so a regressed RTL fails
# the test instead of hanging it: the whole stimulus taken within SEND_CYCLES_PER_BEAT cycles per
# input beat (idle and backpressure included), then the last record or a register access within
# OUTPUT_TIMEOUT_US.
OUTPUT_TIMEOUT_US = 1000
SEND_CYCLES_PER_BEAT = 8


class FeedHandlerBench:
    def __init__(self, dut) -> None:
        self.dut = dut
        self.data_width = int(setting("TB_DATA_WIDTH", "64"))
        cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
        self.axil.write_if.log.setLevel("WARNING")
        self.axil.read_if.log.setLevel("WARNING")
        self.gaps: list[tuple[int, int]] = []
        self.send_beats = 0

    async def reset(self) -> None:
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 4)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 2)
        cocotb.start_soon(self._watch_gaps())

    async def read(self, address: int) -> int:
        return await with_timeout(self.axil.read_dword(address), OUTPUT_TIMEOUT_US, "us")

    async def write(self, address: int, value: int) -> None:
        await with_timeout(self.axil.write_dword(address, value), OUTPUT_TIMEOUT_US, "us")

    async def configure(self, ip: str = model.DEST_IP, port: int = model.DEST_PORT) -> None:
        await self.write(csr.offset("filter_ip"), model.ip_to_int(ip))
        await self.write(csr.offset("filter_port"), port)
        await self.write(csr.offset("control"), 1)

    async def _watch_gaps(self) -> None:
        while True:
            await RisingEdge(self.dut.clk)
            await ReadOnly()
            if self.dut.gap_valid.value == 1:
                self.gaps.append((int(self.dut.gap_first_seq.value), int(self.dut.gap_count.value)))

    async def counters(self) -> dict[str, int]:
        return {name: await self.read(csr.offset(name)) for name in csr.COUNTERS}

    async def send(self, frames: list[model.Frame]) -> None:
        for frame in frames:
            await self.source.send(AxiStreamFrame(frame.data, tuser=int(frame.error)))
        self.send_beats += sum(-(-len(frame.data) // (self.data_width // 8)) for frame in frames)

    async def receive(self, count: int) -> list[int]:
        words = []
        for _ in range(count):
            frame = await self.sink.recv()  # the caller bounds the whole receive
            words.append(records.from_bytes(bytes(frame.tdata)))
        return words

    async def drain(self) -> None:
        budget_ns = round((self.send_beats * SEND_CYCLES_PER_BEAT + 10_000) * CLOCK_NS)
        await with_timeout(self.source.wait(), budget_ns, "ns")
        await ClockCycles(self.dut.clk, 200)


def _stimulus() -> list[model.Frame]:
    return model.read_stimulus(os.environ["TB_STIMULUS"])


def _describe(word: int) -> str:
    return str(records.unpack(word))


@cocotb.test()
async def test_feed_matches_model(dut):
    """Every record and counter equals the host model's, in order, for the configured feed."""
    bench = FeedHandlerBench(dut)
    random_stalls(bench.source, bench.sink)
    await bench.reset()
    await bench.configure()

    frames = _stimulus()
    expected = model.FeedHandlerModel(bench.data_width).run(frames)
    assert expected.records, "the stimulus produced no book events"

    receiver = cocotb.start_soon(bench.receive(len(expected.records)))
    await bench.send(frames)
    await bench.drain()
    got = await with_timeout(receiver, OUTPUT_TIMEOUT_US, "us")
    for i, (word, want) in enumerate(zip(got, expected.records)):
        assert word == want.word, f"record {i}: got {_describe(word)}, want {_describe(want.word)}"
    assert bench.sink.empty(), "records beyond the model's"

    counters = await bench.counters()
    for name, want in expected.counters.items():
        if name in ("stall_in", "stall_out"):
            continue
        assert counters[name] == want, f"counter {name}: got {counters[name]}, want {want}"
    assert counters["frames_in"] == len(frames)
    if setting("TB_BACKPRESSURE", "0") == "1":
        assert counters["stall_out"] > 0, "backpressure was asked for but never happened"
    assert bench.gaps == expected.gaps
    seq = await bench.read(csr.offset("expected_seq_lo"))
    seq |= await bench.read(csr.offset("expected_seq_hi")) << 32
    assert seq == expected.expected_seq
    dut._log.info("%d frames, %d records, counters %s", len(frames), len(got),
                  {k: v for k, v in counters.items() if v})


@cocotb.test()
async def test_registers_read_back(dut):
    """Configuration registers read back what was written; the device id is constant."""
    bench = FeedHandlerBench(dut)
    await bench.reset()
    assert await bench.read(csr.offset("device_id")) == csr.DEVICE_ID
    assert await bench.read(csr.offset("control")) == csr.BY_NAME["control"].reset
    await bench.configure("10.1.2.3", 4321)
    assert await bench.read(csr.offset("filter_ip")) == model.ip_to_int("10.1.2.3")
    assert await bench.read(csr.offset("filter_port")) == 4321
    assert await bench.read(csr.offset("control")) == 1
    assert await bench.read(csr.COUNTER_BASE + 4 * len(csr.COUNTERS)) == 0


@cocotb.test()
async def test_disabled_handler_passes_nothing(dut):
    """With control.enable clear every frame is counted as filtered and no record leaves."""
    bench = FeedHandlerBench(dut)
    await bench.reset()
    frames = _stimulus()
    await bench.send(frames)
    await bench.drain()
    counters = await bench.counters()
    assert counters["drop_filtered"] == len(frames)
    assert counters["frames_passed"] == 0
    assert bench.sink.empty()


@cocotb.test()
async def test_measure_throughput_and_latency(dut):
    """Throughput (input beats per cycle) and latency (cycles from a message's last beat to its record).

    Watches every cycle, so pytest runs it only where figures are wanted; it
    writes them to TB_MEASURE when set.
    """
    bench = FeedHandlerBench(dut)
    await bench.reset()
    await bench.configure()
    keep = bench.data_width // 8
    frames = _stimulus()
    expected = model.FeedHandlerModel(bench.data_width).run(frames)
    in_cycles: list[int] = []
    out_cycles: list[int] = []

    async def watch() -> None:
        cycle = 0
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            cycle += 1
            if dut.s_axis_tvalid.value == 1 and dut.s_axis_tready.value == 1:
                in_cycles.append(cycle)
            if dut.m_axis_tvalid.value == 1 and dut.m_axis_tready.value == 1:
                out_cycles.append(cycle)

    watcher = cocotb.start_soon(watch())
    receiver = cocotb.start_soon(bench.receive(len(expected.records)))
    await bench.send(frames)
    await bench.drain()
    got = await with_timeout(receiver, OUTPUT_TIMEOUT_US, "us")
    watcher.cancel()
    assert got == [r.word for r in expected.records]

    frame_beats = [(len(f.data) + keep - 1) // keep for f in frames]
    first_beat = [0] + list(itertools.accumulate(frame_beats))[:-1]
    latencies = [out_cycles[i] - in_cycles[first_beat[r.frame_index] + r.last_byte // keep]
                 for i, r in enumerate(expected.records)]
    span = in_cycles[-1] - in_cycles[0] + 1
    assert len(in_cycles) == sum(frame_beats)
    result = {
        "data_width": bench.data_width,
        "frames": len(frames),
        "records": len(expected.records),
        "input_beats": len(in_cycles),
        "input_cycles": span,
        "beats_per_cycle": len(in_cycles) / span,
        "latency_min": min(latencies),
        "latency_max": max(latencies),
        "latency_mean": sum(latencies) / len(latencies),
    }
    path = setting("TB_MEASURE", "")
    if path:
        with open(path, "w") as out:
            json.dump(result, out, indent=2)
    dut._log.info("measured %s", result)
