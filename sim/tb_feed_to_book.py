"""cocotb testbench of feed_to_book: Ethernet frames in, BBO update records out, one AXI-Lite port.

`test_feed_matches_book_model` takes its settings from the environment (set by the
pytest caller): TB_STIMULUS (a pickle of `model.Frame`s, `model.write_stimulus`),
TB_PARAMS (JSON of `BookParams` fields), TB_SEED, TB_IDLE, TB_BACKPRESSURE.
`test_replay` is the simulated device of `tickaccel.batch.sim`, run with a
`tickaccel.sim.job.ReplayJob` in its plusargs: it streams the job's frames through
and writes the output records, the counters and its progress to the job's files.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import (
    AxiLiteBus,
    AxiLiteMaster,
    AxiStreamBus,
    AxiStreamFrame,
    AxiStreamSink,
    AxiStreamSource,
)
from tickaccel.feed.capture import open_reader
from tickaccel.feed.framing import DEST_IP, DEST_PORT, ip_to_int
from tickaccel.hw.params import BookParams
from tickaccel.schema import bbo_records, book_csr, csr
from tickaccel.sim import model
from tickaccel.sim.bench import random_stalls
from tickaccel.sim.book_model import BookModel
from tickaccel.sim.job import ReplayJob

CLOCK_NS = 6.4  # 156.25 MHz


class FeedToBookBench:
    def __init__(self, dut) -> None:
        self.dut = dut
        cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
        for bus in (self.source, self.sink):
            bus.log.setLevel("WARNING")
        self.axil.write_if.log.setLevel("WARNING")
        self.axil.read_if.log.setLevel("WARNING")

    async def reset(self) -> None:
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 4)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)
        # the book clears its memories after reset; the feed handler queues meanwhile
        while self.dut.order_book_inst.s_axis_tready.value != 1:
            await RisingEdge(self.dut.clk)

    async def configure(self, ip: str = DEST_IP, port: int = DEST_PORT) -> None:
        await self.axil.write_dword(book_csr.FEED_BASE + csr.offset("filter_ip"), ip_to_int(ip))
        await self.axil.write_dword(book_csr.FEED_BASE + csr.offset("filter_port"), port)
        await self.axil.write_dword(book_csr.FEED_BASE + csr.offset("control"), 1)

    async def book(self, offset: int) -> int:
        return await self.axil.read_dword(book_csr.BOOK_BASE + offset)

    async def counters(self) -> dict[str, dict[str, int]]:
        return {
            "feed": {n: await self.axil.read_dword(book_csr.FEED_BASE + csr.offset(n)) for n in csr.COUNTERS},
            "book": {n: await self.book(book_csr.offset(n)) for n in book_csr.COUNTERS},
        }

    async def symbol(self, locate: int) -> int:
        base = book_csr.symbol_offset(locate)
        return (await self.book(base)) << 32 | await self.book(base + 4)

    async def stale(self, locate: int) -> bool:
        offset, bit = book_csr.stale_offset(locate)
        return bool((await self.book(offset) >> bit) & 1)

    async def clear_stale(self, locate: int) -> None:
        offset, bit = book_csr.stale_offset(locate)
        await self.axil.write_dword(book_csr.BOOK_BASE + offset, 1 << bit)

    async def send(self, frames: list[model.Frame], progress: str = "") -> None:
        for i, frame in enumerate(frames):
            await self.source.send(AxiStreamFrame(frame.data, tuser=int(frame.error)))
            if progress and i % 500 == 0:
                Path(progress).write_text(f"{i} {len(frames)}\n")

    async def settle(self) -> None:
        """Wait until the input is sent and no record has left for a while."""
        await self.source.wait()
        while True:
            before = self.sink.count()
            await ClockCycles(self.dut.clk, 400)
            if self.sink.count() == before and self.dut.m_axis_tvalid.value == 0:
                return

    def take(self, depth: int = 0) -> list[int]:
        words = []
        while not self.sink.empty():
            words.append(bbo_records.from_bytes(bytes(self.sink.recv_nowait().tdata), depth))
        return words


def _params() -> BookParams:
    return BookParams(**json.loads(os.environ.get("TB_PARAMS", "{}")))


@cocotb.test()
async def test_feed_matches_book_model(dut):
    """Records, book counters, stale flags and symbol table equal the models' for a faulty feed."""
    bench = FeedToBookBench(dut)
    random_stalls(bench.source, bench.sink)
    await bench.reset()
    await bench.configure()
    frames = model.read_stimulus(os.environ["TB_STIMULUS"])
    events = [r.word for r in model.FeedHandlerModel(64).run(frames).records]
    book = BookModel(_params())
    want = book.run(events)

    depth = book.params.depth_out
    await bench.send(frames)
    await bench.settle()
    got = bench.take(depth)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"record {i}: got {bbo_records.unpack(g, depth)}, want {bbo_records.unpack(w, depth)}"
    assert len(got) == len(want), f"{len(got)} records, want {len(want)}"

    counters = (await bench.counters())["book"]
    for name, value in book.counters.items():
        if name not in ("level_scans", "stall_out"):
            assert counters[name] == value, f"book counter {name}: got {counters[name]}, want {value}"
    assert await bench.book(book_csr.offset("book_id")) == book_csr.DEVICE_ID
    assert await bench.book(book_csr.offset("live_orders")) == len(book.orders)
    assert await bench.book(book_csr.offset("stale_symbols")) == len(book.stale)
    for locate, name in sorted(book.names.items())[:8]:
        assert await bench.symbol(locate) == name
    for locate in range(min(64, book.params.max_symbols)):
        assert await bench.stale(locate) == (locate in book.stale)
    for locate in sorted(book.stale)[:3]:
        await bench.clear_stale(locate)
        assert not await bench.stale(locate)
    assert await bench.book(book_csr.offset("stale_symbols")) == max(len(book.stale) - 3, 0)
    dut._log.info("%d frames, %d events, %d records, book counters %s", len(frames), len(events),
                  len(got), {k: v for k, v in counters.items() if v})


@cocotb.test()
async def test_replay(dut):
    """The simulated device: every frame of the job through, every record and counter out to its files."""
    job = ReplayJob.from_plusargs(cocotb.plusargs)
    bench = FeedToBookBench(dut)
    await bench.reset()
    await bench.configure(job.dest_ip, job.dest_port)
    with open(job.frames, "rb") as stream:
        frames = [model.Frame(bytes(frame)) for _, frame in open_reader(stream, job.frames)]
    await bench.send(frames, job.progress)
    await bench.settle()
    depth = job.params.depth_out
    words = bench.take(depth)
    counters = await bench.counters()
    assert counters["feed"]["frames_in"] == len(frames)
    assert counters["book"]["bbo_updates"] + counters["book"]["symbol_updates"] == len(words)
    Path(job.output).write_bytes(b"".join(bbo_records.to_bytes(w, depth) for w in words))
    Path(job.counters).write_text(json.dumps(counters, indent=2))
    Path(job.progress).write_text(f"{len(frames)} {len(frames)}\n")
