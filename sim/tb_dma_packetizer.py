"""cocotb testbench of bbo_dma_packetizer: BBO records in, S2MM packets of record slots out.

A cycle-by-cycle model watches both ports and says on which beat tlast must
come: after RECORDS_PER_PACKET records, or on the held last beat once
IDLE_CYCLES have passed with it waiting and no record offered. Records come
with random and long idle gaps, the sink stalls randomly and for long runs.
TB_RECORDS_PER_PACKET and TB_IDLE_CYCLES repeat the build's parameters.
"""
from __future__ import annotations

import os
import random

import cocotb
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from tickaccel.schema import bbo_records
from tickaccel.sim import bench
from tickaccel.sim.tb_dma_axis import HoldChecker, bursty_pauses


class PacketModel:
    """Where tlast must fall, from the handshakes and tvalid seen on each cycle."""

    def __init__(self, dut, records_per_packet: int, idle_cycles: int, record_beats: int) -> None:
        self.dut, self.rpp, self.idle_cycles, self.beats = dut, records_per_packet, idle_cycles, record_beats
        self.taken = 0           # records the packetizer accepted
        self.sent = 0            # beats it sent
        self.in_packet = 0       # records fully sent in the open packet
        self.idle = 0            # cycles the held last beat has waited with no record offered
        self.timed_out = False
        self.closes: list[tuple[int, str]] = []  # (records, "count" or "idle") per packet

    async def run(self) -> None:
        dut = self.dut
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            offered = int(dut.s_axis_tvalid.value)
            sent_now = int(dut.m_axis_tvalid.value) and int(dut.m_axis_tready.value)
            # the only beat a packetizer may hold back: a record's last, with nothing queued behind it
            held = self.taken * self.beats - self.sent == 1 and not offered and not sent_now
            if sent_now:
                last_beat = self.sent % self.beats == self.beats - 1
                full = self.in_packet + 1 >= self.rpp
                want = last_beat and (full or self.timed_out)
                assert int(dut.m_axis_tlast.value) == want, (
                    f"beat {self.sent}: tlast {int(dut.m_axis_tlast.value)}, want {int(want)} "
                    f"({self.in_packet + 1} records in packet, timed out {self.timed_out})")
                self.sent += 1
                if last_beat:
                    self.in_packet += 1
                if want:
                    self.closes.append((self.in_packet, "count" if full else "idle"))
                    self.in_packet, self.timed_out = 0, False
            self.idle = self.idle + 1 if held else 0
            if self.idle >= self.idle_cycles:
                self.timed_out = True
            if offered and int(dut.s_axis_tready.value):
                self.taken += 1


def _setup(dut):
    rpp = int(os.environ["TB_RECORDS_PER_PACKET"])
    idle_cycles = int(os.environ["TB_IDLE_CYCLES"])
    width = len(dut.m_axis_tdata)
    beats = -(-bbo_records.RECORD_WIDTH // width)
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
    for port in (source, sink):
        port.log.setLevel("WARNING")
    model = PacketModel(dut, rpp, idle_cycles, beats)
    return rpp, idle_cycles, beats * width // 8, source, sink, model


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def test_records_leave_as_slots_in_packets_closed_by_count_or_idle(dut):
    """Every record once, in order, as its slot; tlast where the model says; stalled beats hold still."""
    rpp, idle_cycles, slot_bytes, source, sink, model = _setup(dut)
    # gaps long enough to time out, stalls long enough to hold a full packet's last beat
    source.set_pause_generator(bursty_pauses(1, 0.3, 60, 2 * idle_cycles))
    sink.set_pause_generator(bursty_pauses(2, 0.4, 40, 3 * idle_cycles))
    hold = HoldChecker(dut, ("tdata", "tkeep", "tlast"))
    await bench.start(dut)
    cocotb.start_soon(model.run())
    cocotb.start_soon(hold.run())
    rng = random.Random(3)
    records = [rng.randbytes(bbo_records.RECORD_BYTES) for _ in range(400)]
    for record in records:
        await source.send(AxiStreamFrame(record))
    await source.wait()
    packets = []
    while sum(n for n, _ in model.closes) < len(records):
        packets.append(bytes((await sink.recv()).tdata))
    while not sink.empty():
        packets.append(bytes(sink.recv_nowait().tdata))
    await ClockCycles(dut.clk, 4 * idle_cycles)
    assert sink.empty() and not int(dut.m_axis_tvalid.value), "beats after the last record's packet"

    pad = bytes(slot_bytes - bbo_records.RECORD_BYTES)
    assert b"".join(packets) == b"".join(r + pad for r in records), "records lost, repeated or garbled"
    assert [len(p) // slot_bytes for p in packets] == [n for n, _ in model.closes]
    assert all(len(p) % slot_bytes == 0 and 0 < len(p) // slot_bytes <= rpp for p in packets)
    reasons = {why for _, why in model.closes}
    assert reasons == {"count", "idle"} if rpp > 1 else reasons == {"count"}, model.closes
    assert hold.stalls > 100, "the sink's backpressure never reached the port"


@cocotb.test(timeout_time=1, timeout_unit="ms")
async def test_a_lone_record_closes_its_packet_idle_cycles_after_its_slot(dut):
    """No pauses: the last beat waits exactly IDLE_CYCLES, so tlast comes RECORD_BEATS + IDLE_CYCLES
    cycles after the record was taken (the flush latency of a burst's tail)."""
    rpp, idle_cycles, slot_bytes, source, sink, model = _setup(dut)
    beats = slot_bytes * 8 // len(dut.m_axis_tdata)
    await bench.start(dut)
    cocotb.start_soon(model.run())
    await source.send(AxiStreamFrame(bytes(range(bbo_records.RECORD_BYTES))))
    taken_at = tlast_at = None
    for cycle in range(beats + idle_cycles + 20):
        await RisingEdge(dut.clk)
        await ReadOnly()
        if int(dut.s_axis_tvalid.value) and int(dut.s_axis_tready.value):
            taken_at = cycle
        if int(dut.m_axis_tvalid.value) and int(dut.m_axis_tready.value) and int(dut.m_axis_tlast.value):
            tlast_at = cycle
    assert taken_at is not None and tlast_at is not None, "the record never left"
    expected = beats if rpp == 1 else beats + idle_cycles
    assert tlast_at - taken_at == expected, f"tlast {tlast_at - taken_at} cycles after the record, want {expected}"
    assert bytes((await sink.recv()).tdata) == bytes(range(bbo_records.RECORD_BYTES)) + \
        bytes(slot_bytes - bbo_records.RECORD_BYTES)
