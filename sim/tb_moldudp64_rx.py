"""cocotb testbench of moldudp64_rx: UDP payloads in, message blocks, sequence and gaps out, against `model`."""
from __future__ import annotations

import random

import cocotb
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamSink, AxiStreamSource

from tickaccel.feed import moldudp64
from tickaccel.feed.capture import udp_frame
from tickaccel.feed.framing import DEST_IP, DEST_PORT, SESSION
from tickaccel.sim import bench, model

STATS = ["packet", "packet_short", "heartbeat", "end_of_session", "session", "dup_packet"]
# m_mold_skip / m_mold_drop are valid this many cycles after a packet's first beat is taken
DECISION_CYCLES = 2

# Waits for output give up after this much simulated time, so a regressed RTL fails instead of hanging.
OUTPUT_TIMEOUT_US = 1000
COUNTER_OF = {"packet": "packets", "packet_short": "packets_short", "heartbeat": "heartbeats",
              "session": "sessions", "dup_packet": "dup_packets"}


async def _check_against_model(dut, source, sink, payloads: list[tuple[bytes, int, bool]],
                               expected: model.ModelResult) -> None:
    """Send each (payload, lead lanes, tuser) and hold the blocks, first sequence, skip and drop
    (two cycles after the first beat), gaps and counts to the model's."""
    await bench.start(dut)
    tally = bench.count_strobes(dut, STATS)
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
    for payload, lead, bad in payloads:
        await source.send(bench.offset_frame(payload, lead, bad))
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


@cocotb.test()
async def test_blocks_sequence_and_gaps_match_model(dut):
    """Forwarded blocks carry the model's first sequence (with the first beat), skip and drop
    (two cycles after it); gaps and counts agree."""
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
    source.set_pause_generator(bench.pauses(3, 0.2))
    sink.set_pause_generator(bench.pauses(4, 0.4))
    keep = bench.data_width() // 8
    _, expected = bench.stimulus()
    rng = random.Random(5)
    payloads = [(payload, rng.randrange(keep), bad) for payload, bad in expected.udp_payloads]
    await _check_against_model(dut, source, sink, payloads, expected)


def _headers_in_last_beat(keep: int, n_packets: int, seed: int) -> list[tuple[bytes, int]]:
    """MoldUDP64 packets, each with the lead lanes that put its header's last byte in its last
    beat: in sequence, duplicates, overlaps, gaps, heartbeats and new sessions, so that each
    decision depends on the expected sequence the packet before moved."""
    rng = random.Random(seed)
    # blocks of a one-byte message fit behind the header when it ends in the beat's lane 0
    most_blocks = max(1, (keep - 1) // 3)
    session, expected, packets = SESSION, 1, []
    for _ in range(n_packets):
        kinds = ["next", "next", "next", "duplicate", "gap", "heartbeat", "session"]
        kind = rng.choice(kinds + (["overlap"] if most_blocks > 1 else []))
        count = rng.randint(2 if kind == "overlap" else 1, most_blocks)
        seq = {"session": rng.randrange(1, 1 << 40), "duplicate": max(1, expected - count),
               "overlap": max(1, expected - 1), "gap": expected + rng.randint(1, 1000),
               "heartbeat": expected + rng.choice([0, 0, 3])}.get(kind, expected)
        if kind == "session":
            session = f"S{rng.randrange(10 ** 9):09d}"
            expected = seq
        if kind == "heartbeat":
            count = moldudp64.HEARTBEAT
        blocks = b"".join(b"\x00\x01" + bytes([rng.randrange(256)]) for _ in range(count))
        payload = moldudp64.HEADER.pack(moldudp64.session_bytes(session), seq, count) + blocks
        # lead lanes F: header byte 19 at F + 19, the last byte at F + len - 1, in one beat
        leads = [f for f in range(keep) if (f + 19) // keep == (f + len(payload) - 1) // keep]
        packets.append((payload, rng.choice(leads)))
        expected = max(expected, seq + count)
    return packets


@cocotb.test()
async def test_back_to_back_packets_with_header_in_last_beat(dut):
    """Packets whose header completes in their last beat, back to back with no idle and no
    backpressure: the next packet's decision sees the expected sequence this one moved."""
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
    packets = _headers_in_last_beat(bench.data_width() // 8, 300, seed=7)
    frames = [model.Frame(udp_frame(payload, dst_ip=DEST_IP, dst_port=DEST_PORT)) for payload, _ in packets]
    expected = model.FeedHandlerModel(bench.data_width()).run(frames)
    assert [payload for payload, _ in expected.udp_payloads] == [payload for payload, _ in packets]
    await _check_against_model(dut, source, sink, [(payload, lead, False) for payload, lead in packets], expected)
