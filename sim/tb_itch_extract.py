"""cocotb testbench of itch_extract: message blocks in any alignment, one message per beat out, against `model`."""
from __future__ import annotations

import random

import cocotb
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout
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
        for frame, (_, seq, skip, _, drop) in zip(_frames(expected, keep), expected.mold_packets):
            # the sideband holds for the whole packet, so each packet is sent on its own
            dut.s_mold_seq.value = seq
            dut.s_mold_skip.value = skip
            dut.s_mold_drop.value = int(drop)
            await source.send(frame)
            await with_timeout(source.wait(), OUTPUT_TIMEOUT_US, "us")

    sender = cocotb.start_soon(send_all())
    await _expect(dut, sink, expected, sender, tally)


@cocotb.test()
async def test_back_to_back_packets_keep_their_sideband(dut):
    """Packets back to back with the sideband as moldudp64_rx drives it: the sequence with a
    packet's first beat, skip and drop from two cycles after it is taken until the next first
    beat is taken. A short packet's first beat may wait in the input ring while the next packet
    is offered: that packet must wait until the first one's sideband is used."""
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_msg"), dut.clk, dut.rst)
    for name in ("s_axis_tvalid", "s_mold_seq", "s_mold_skip", "s_mold_drop"):
        getattr(dut, name).value = 0
    await bench.start(dut)
    tally = bench.count_strobes(dut, ["length_error", "truncated"])
    keep = bench.data_width() // 8
    _, expected = bench.stimulus()

    # (skip, drop) of the packet whose first beat the last edge took: driven after the next edge,
    # so the RTL reads it at the edge after that, two cycles after the take
    verdict = None

    async def edge() -> None:
        nonlocal verdict
        await RisingEdge(dut.clk)
        if verdict is not None:
            dut.s_mold_skip.value, dut.s_mold_drop.value = verdict
            verdict = None

    async def drive() -> None:
        nonlocal verdict
        for frame, (_, seq, skip, _, drop) in zip(_frames(expected, keep), expected.mold_packets):
            data = bytes(frame.tdata)
            for start in range(0, len(data), keep):
                first, last = start == 0, start + keep >= len(data)
                dut.s_axis_tdata.value = int.from_bytes(data[start:start + keep].ljust(keep, b"\0"), "little")
                dut.s_axis_tkeep.value = sum(bit << i for i, bit in enumerate(frame.tkeep[start:start + keep]))
                dut.s_axis_tlast.value = int(last)
                dut.s_axis_tuser.value = int(last and frame.tuser)
                dut.s_axis_tvalid.value = 1
                if first:
                    dut.s_mold_seq.value = seq
                taken = False
                while not taken:
                    await edge()
                    taken = bool(dut.s_axis_tready.value)  # read at the edge, before its updates
                if first:
                    verdict = (skip, int(drop))
        dut.s_axis_tvalid.value = 0
        await edge()

    driver = cocotb.start_soon(drive())
    await _expect(dut, sink, expected, driver, tally)


def _frames(expected, keep: int):
    rng = random.Random(7)
    for blocks, _, _, aborted, _ in expected.mold_packets:
        if aborted:  # good bytes end on a beat boundary, then the faulty last beat
            yield bench.offset_frame(blocks, -len(blocks) % keep, True, keep)
        else:
            yield bench.offset_frame(blocks, rng.randrange(keep))


async def _expect(dut, sink, expected, sender, tally) -> None:
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
