"""cocotb testbench of itch_extract: message blocks in any alignment, one message per beat out, against `model`."""
from __future__ import annotations

import random

import cocotb
from cocotb.triggers import ClockCycles, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamSink, AxiStreamSource

from tickaccel.sim import bench

# Waits for output give up after this much simulated time, so a regressed RTL fails instead of hanging.
OUTPUT_TIMEOUT_US = 1000


@cocotb.test()
async def test_messages_and_errors_match_model(dut):
    """Every message with its sequence, skipped blocks and dropped packets left out, length and
    truncation errors counted (none for a dropped packet)."""
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_msg"), dut.clk, dut.rst)
    sink.set_pause_generator(bench.pauses(6, 0.4))
    await bench.start(dut)
    tally = bench.count_strobes(dut, ["length_error", "truncated"])
    keep = bench.data_width() // 8
    _, expected = bench.stimulus()

    async def send_all() -> None:
        rng = random.Random(7)
        for blocks, seq, skip, aborted, drop in expected.mold_packets:
            # the sideband holds for the whole packet, so each packet is sent on its own
            dut.s_mold_seq.value = seq
            dut.s_mold_skip.value = skip
            dut.s_mold_drop.value = int(drop)
            if aborted:  # good bytes end on a beat boundary, then the faulty last beat
                frame = bench.offset_frame(blocks, -len(blocks) % keep, True, keep)
            else:
                frame = bench.offset_frame(blocks, rng.randrange(keep))
            await source.send(frame)
            await with_timeout(source.wait(), OUTPUT_TIMEOUT_US, "us")

    sender = cocotb.start_soon(send_all())
    for i, (message, seq) in enumerate(expected.messages):
        got = await with_timeout(sink.recv(), OUTPUT_TIMEOUT_US, "us")
        assert bytes(got.tdata)[:len(message)] == message, f"message {i}"
        user = got.tuser if isinstance(got.tuser, int) else got.tuser[0]
        assert user == seq, f"message {i} sequence"
    await with_timeout(sender, OUTPUT_TIMEOUT_US, "us")
    await ClockCycles(dut.clk, 100)
    assert sink.empty()
    assert tally["length_error"] == expected.counters["length_errors"]
    assert tally["truncated"] == expected.counters["truncated_messages"]
