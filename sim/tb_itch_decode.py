"""cocotb testbench of itch_decode: messages in, book-event records and type strobes out, against `model`."""
from __future__ import annotations

from collections import Counter

import cocotb
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from tickaccel.schema import records
from tickaccel.sim import bench

# Waits for output give up after this much simulated time, so a regressed RTL fails instead of hanging.
OUTPUT_TIMEOUT_US = 1000


@cocotb.test()
async def test_records_and_type_counts_match_model(dut):
    """Each book-type message becomes the host's record; every message is counted by type."""
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_msg"), dut.clk, dut.rst)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
    source.set_pause_generator(bench.pauses(8, 0.2))
    sink.set_pause_generator(bench.pauses(9, 0.4))
    await bench.start(dut)
    _, expected = bench.stimulus()
    types: Counter = Counter()

    async def watch() -> None:
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            if dut.stat_msg_valid.value == 1:
                types[int(dut.stat_msg_type.value)] += 1

    cocotb.start_soon(watch())
    for message, seq in expected.messages:
        await source.send(AxiStreamFrame(message.ljust(50, b"\0"), tuser=seq))
    for i, want in enumerate(expected.records):
        got = await with_timeout(sink.recv(), OUTPUT_TIMEOUT_US, "us")
        word = records.from_bytes(bytes(got.tdata))
        assert word == want.word, f"record {i}: {records.unpack(word)} != {records.unpack(want.word)}"
    await with_timeout(source.wait(), OUTPUT_TIMEOUT_US, "us")
    await ClockCycles(dut.clk, 10)
    assert sink.empty()
    assert types == Counter(message[0] for message, _ in expected.messages)
