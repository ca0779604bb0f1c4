"""cocotb testbench of order_book: book-event records in, BBO update records out, against `book_model`.

Settings come from the environment (set by the pytest caller): TB_STIMULUS (a
pickle of the event words and `BookParams`, made by `book_model.write_stimulus`
outside the simulator), TB_SEED, TB_IDLE (TB_IDLE_SHARE) and TB_BACKPRESSURE (random pauses on
s_axis / m_axis), TB_MEASURE (a path: write latency and throughput there as JSON),
TB_OUTPUT (a path: write the records received there, as `bbo_records.to_bytes`).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, SimTimeoutError, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource
from tickaccel.schema import bbo_records, records
from tickaccel.sim import book_model
from tickaccel.sim.bench import count_strobes, random_stalls

CLOCK_NS = 4.0  # 250 MHz
# Cycle budgets for the waits on the design: a stuck book fails the test instead of hanging it.
CLEAR_CYCLES = 1 << 20   # memories cleared after reset (price_levels: max(2 * MAX_SYMBOLS, LEVEL_BLOCKS) cycles)
CYCLES_PER_EVENT = 100   # on average, with random stalls; ~5 without, 70 for the longest order-store move


def budget_ns(events: int) -> float:
    """Time the book may take for `events` events."""
    return (1000 + CYCLES_PER_EVENT * events) * CLOCK_NS


class BookBench:
    def __init__(self, dut, depth: int = 0) -> None:
        self.dut = dut
        self.depth = depth  # DEPTH_OUT: levels per side in each record
        cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
        self.source.log.setLevel("WARNING")
        self.sink.log.setLevel("WARNING")
        dut.stale_clear_valid.value = 0
        dut.stale_clear_word.value = 0
        dut.stale_clear_mask.value = 0
        dut.csr_stale_addr.value = 0
        dut.csr_symbol_addr.value = 0

    async def reset(self) -> None:
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 4)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)
        for _ in range(CLEAR_CYCLES):  # the memories clear after reset
            if self.dut.s_axis_tready.value == 1:
                return
            await RisingEdge(self.dut.clk)
        raise AssertionError(f"s_axis_tready still low {CLEAR_CYCLES} cycles after reset")

    async def send(self, words: list[int]) -> None:
        for word in words:
            await self.source.send(AxiStreamFrame(records.to_bytes(word)))

    async def receive(self, want: list[int], events: int) -> list[int]:
        """The next len(want) records, within the cycle budget of `events` events; on timeout the
        records received so far are compared with the model's first, so a wrong record shows."""
        got: list[int] = []

        async def collect() -> None:
            while len(got) < len(want):
                got.append(bbo_records.from_bytes(bytes((await self.sink.recv()).tdata), self.depth))

        try:
            await with_timeout(collect(), budget_ns(events), "ns")
        except SimTimeoutError:
            _compare(got, want[:len(got)], self.depth)
            raise AssertionError(f"{len(got)} of {len(want)} records within the cycle budget") from None
        return got

    async def clear_stale(self, locate: int) -> None:
        self.dut.stale_clear_word.value = locate // 32
        self.dut.stale_clear_mask.value = 1 << (locate % 32)
        self.dut.stale_clear_valid.value = 1
        await RisingEdge(self.dut.clk)
        for _ in range(CYCLES_PER_EVENT):
            if self.dut.stale_clear_ready.value == 1:
                break
            await RisingEdge(self.dut.clk)
        else:
            raise AssertionError("stale_clear_ready stayed low")
        self.dut.stale_clear_valid.value = 0


# the book's stat_* strobes the model counts under the same names
COUNTED = ("level_store_full", "order_store_full", "stale_raised")


def _describe(word: int, depth: int) -> str:
    fields = bbo_records.unpack(word, depth)
    return str({k: (chr(v) if k == "kind" else v) for k, v in fields.items()})


def _compare(got: list[int], want: list[int], depth: int = 0) -> None:
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"record {i}: got {_describe(g, depth)}, want {_describe(w, depth)}"
    assert len(got) == len(want), f"{len(got)} records, want {len(want)}"


@cocotb.test()
async def test_events_match_model(dut):
    """Every output record equals the model's, in order, under random idle cycles and backpressure."""
    words, params = book_model.read_stimulus(os.environ["TB_STIMULUS"])
    bench = BookBench(dut, params.depth_out)
    random_stalls(bench.source, bench.sink)
    await bench.reset()
    model = book_model.BookModel(params)
    want = model.run(words)
    assert want, "the stimulus produced no output"
    counts = count_strobes(dut, list(COUNTED))
    receiver = cocotb.start_soon(bench.receive(want, len(words)))
    await bench.send(words)
    got = await receiver
    await bench.source.wait()  # events after the last record (refused adds on a stale symbol) sent too
    await ClockCycles(dut.clk, 50)
    _compare(got, want, params.depth_out)
    assert bench.sink.empty(), "records beyond the model's"
    # refusals and stale flags as the model's; the level pool's free blocks as the model's
    assert counts == {name: model.counters[name] for name in counts}, (counts, model.counters)
    assert int(dut.status_free_blocks.value) == model.pool_free, (int(dut.status_free_blocks.value),
                                                                  model.pool_free)
    stale = set()
    for word in range(max(1, params.max_symbols // 32)):
        dut.csr_stale_addr.value = word
        await ClockCycles(dut.clk, 2)
        await ReadOnly()
        flags = int(dut.csr_stale_data.value)
        stale |= {32 * word + bit for bit in range(32) if flags >> bit & 1}
        await RisingEdge(dut.clk)
    assert stale == model.stale, (sorted(stale), sorted(model.stale))
    if os.environ.get("TB_OUTPUT"):
        Path(os.environ["TB_OUTPUT"]).write_bytes(b"".join(bbo_records.to_bytes(w, params.depth_out)
                                                           for w in got))

    # A cleared symbol reports exact again: its next record carries no stale flag.
    if model.stale:
        locate = min(model.stale)
        await bench.clear_stale(locate)
        model.clear_stale(locate)
        dut.csr_stale_addr.value = locate // 32
        await ClockCycles(dut.clk, 4)
        assert not (int(dut.csr_stale_data.value) >> (locate % 32)) & 1
    dut._log.info("%d events, %d records, %d stale symbols", len(words), len(got), len(model.stale))


@cocotb.test()
async def test_measure_latency_and_throughput(dut):
    """Cycles from an event's s_axis handshake to its record's m_axis valid, per kind; events per cycle.

    Unless TB_IDLE or TB_BACKPRESSURE ask for random pauses, the sink never stalls and the source
    never pauses, so the figures are the book's own. An event's latency includes the cycles it
    waits in the pipeline behind older events (a level scan, orders moved by an insert).
    """
    words, params = book_model.read_stimulus(os.environ["TB_STIMULUS"])
    bench = BookBench(dut, params.depth_out)
    random_stalls(bench.source, bench.sink)
    await bench.reset()
    want = book_model.BookModel(params).run(words)
    kind_of_seq = {records.unpack(w)["seq"]: chr(records.unpack(w)["kind"]) for w in words}
    in_cycle: dict[int, int] = {}
    out_cycle: dict[int, int] = {}
    accepted: list[int] = []
    book_accepted: list[int] = []  # order events (not R): the feed's stock directory is one R a cycle

    async def watch() -> None:
        cycle = 0
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            cycle += 1
            if dut.s_axis_tvalid.value == 1 and dut.s_axis_tready.value == 1:
                seq = (int(dut.s_axis_tdata.value) >> records.FIELD_POSITIONS["seq"][0]) & ((1 << 64) - 1)
                in_cycle[seq] = cycle
                accepted.append(cycle)
                if kind_of_seq[seq] != "R":
                    book_accepted.append(cycle)
            if dut.m_axis_tvalid.value == 1 and dut.m_axis_tready.value == 1:
                seq = (int(dut.m_axis_tdata.value) >> bbo_records.FIELD_POSITIONS["seq"][0]) & ((1 << 64) - 1)
                out_cycle.setdefault(seq, cycle)

    watcher = cocotb.start_soon(watch())
    receiver = cocotb.start_soon(bench.receive(want, len(words)))
    await bench.send(words)
    got = await receiver
    watcher.cancel()
    _compare(got, want, params.depth_out)
    # valid rises one cycle before the handshake cycle is seen with tready high: latency
    # counts from the cycle the event was taken to the first cycle its record is valid.
    per_kind: dict[str, list[int]] = {}
    for seq, cycle in out_cycle.items():
        per_kind.setdefault(kind_of_seq[seq], []).append(cycle - in_cycle[seq])
    span = accepted[-1] - accepted[0] + 1
    result = {
        "events": len(words),
        "records": len(got),
        "cycles": span,
        "events_per_cycle": len(accepted) / span,
        "book_events_per_cycle": len(book_accepted) / (book_accepted[-1] - book_accepted[0] + 1),
        "latency": {k: {"min": min(v), "max": max(v), "mean": sum(v) / len(v), "count": len(v)}
                    for k, v in sorted(per_kind.items())},
    }
    path = os.environ.get("TB_MEASURE")
    if path:
        Path(path).write_text(json.dumps(result, indent=2))
    dut._log.info("measured %s", result)
