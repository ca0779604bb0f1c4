"""cocotb testbench of moldudp64_rx: UDP payloads in, message blocks, sequence and gaps out, against `model`."""
from __future__ import annotations

import random

import cocotb
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamSink, AxiStreamSource

from tickaccel.sim import bench

STATS = ["packet", "packet_short", "heartbeat", "end_of_session", "session", "dup_packet"]
# m_mold_skip / m_mold_drop are valid this many cycles after a packet's first beat is taken
DECISION_CYCLES = 2

# Waits for output give up after this much simulated time, so a regressed RTL fails instead of hanging.
OUTPUT_TIMEOUT_US = 1000
COUNTER_OF = {"packet": "packets", "packet_short": "packets_short", "heartbeat": "heartbeats",
              "session": "sessions", "dup_packet": "dup_packets"}


@cocotb.test()
async def test_blocks_sequence_and_gaps_match_model(dut):
    """Forwarded blocks carry the model's first sequence (with the first beat), skip and drop
    (two cycles after it); gaps and counts agree."""
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
    source.set_pause_generator(bench.pauses(3, 0.2))
    sink.set_pause_generator(bench.pauses(4, 0.4))
    await bench.start(dut)
    tally = bench.count_strobes(dut, STATS)
    keep = bench.data_width() // 8
    _, expected = bench.stimulus()
    headers: list[tuple[int, int, bool]] = []
    gaps: list[tuple[int, int]] = []

    async def watch() -> None:
        first, seq, wait = True, None, 0
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            if seq is not None:
                wait += 1
                if wait == DECISION_CYCLES:  # cycles after the first beat: the decision
                    headers.append((seq, int(dut.m_mold_skip.value), bool(dut.m_mold_drop.value)))
                    seq, wait = None, 0
            if dut.gap_valid.value == 1:
                gaps.append((int(dut.gap_first_seq.value), int(dut.gap_count.value)))
            if dut.m_axis_tvalid.value == 1 and dut.m_axis_tready.value == 1:
                if first:
                    seq = int(dut.m_mold_seq.value)
                first = dut.m_axis_tlast.value == 1

    cocotb.start_soon(watch())
    rng = random.Random(5)
    for payload, bad in expected.udp_payloads:
        await source.send(bench.offset_frame(payload, rng.randrange(keep), bad))
    for i, (blocks, seq, skip, aborted, _) in enumerate(expected.mold_packets):
        got = await with_timeout(sink.recv(), OUTPUT_TIMEOUT_US, "us")
        data = bytes(got.tdata)
        # a faulty packet's last beat is discarded downstream: the model's blocks stop before it
        assert data[:len(blocks)] == blocks if aborted else data == blocks, f"packet {i}"
    await with_timeout(source.wait(), OUTPUT_TIMEOUT_US, "us")
    await ClockCycles(dut.clk, 20)
    assert sink.empty()
    assert headers == [(seq, skip, drop) for _, seq, skip, _, drop in expected.mold_packets]
    assert gaps == expected.gaps
    for name in STATS:
        want = expected.counters[COUNTER_OF.get(name, name)]
        assert tally[name] == want, f"stat_{name}: {tally[name]} != {want}"
