"""cocotb bench of feed_to_book_dma: what a DMA transfer costs at the stream level, in cycles.

Run by ``bench/fpga_dma.py`` (TB_BUFFERS: a pickled list of MM2S buffers as
the driver packs them; TB_RESULT: where the JSON figures go; TB_S2MM: where the
S2MM bytes go, the record slots a driver would receive). The DMA is
ideal on both sides (MM2S never pauses, S2MM always ready), so every cycle
counted is the RTL's own. The first buffer goes alone and drains completely,
which times one transfer from its first beat to its last S2MM packet; the
rest go back to back, which gives the throughput with no host between
transfers and the stall at each buffer boundary.
"""
from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import cocotb
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from tickaccel.schema import csr, itch
from tickaccel.fpga import layout, registers
from tickaccel.sim import bench
from tickaccel.feed.framing import DEST_IP, DEST_PORT, ip_to_int

MESSAGE_COUNTERS = tuple(f"feed_{csr.MESSAGE_COUNTER[t]}" for t in itch.MESSAGES)


class Trace:
    """Cycle numbers of the handshakes on the three streams: MM2S, feed_to_book's two ports, S2MM."""

    def __init__(self, dut) -> None:
        self.dut = dut
        self.cycle = 0
        self.buffer_first: list[int] = []   # first MM2S beat of each buffer
        self.buffer_last: list[int] = []    # its tlast beat
        self.frame_first: list[int] = []    # first beat of each frame into feed_to_book
        self.records: list[int] = []        # each record into the packetizer
        self.packet_last: list[int] = []    # each S2MM tlast
        self.packet_beats: list[int] = []
        self.mm2s_stalls = 0                # MM2S beat offered, not taken
        self.in_buffer = self._in_frame = False  # an MM2S buffer is part sent
        self.open_beats = 0                # S2MM beats of the packet not yet closed

    async def run(self) -> None:
        dut = self.dut
        while True:
            await RisingEdge(dut.clk)
            await ReadOnly()
            self.cycle += 1
            if int(dut.s_axis_tvalid.value):
                if not int(dut.s_axis_tready.value):
                    self.mm2s_stalls += 1
                else:
                    if not self.in_buffer:
                        self.buffer_first.append(self.cycle)
                    self.in_buffer = not int(dut.s_axis_tlast.value)
                    if not self.in_buffer:
                        self.buffer_last.append(self.cycle)
            if int(dut.frame_tvalid.value) and int(dut.frame_tready.value):
                if not self._in_frame:
                    self.frame_first.append(self.cycle)
                self._in_frame = not int(dut.frame_tlast.value)
            if int(dut.record_tvalid.value) and int(dut.record_tready.value):
                self.records.append(self.cycle)
            if int(dut.m_axis_tvalid.value) and int(dut.m_axis_tready.value):
                self.open_beats += 1
                if int(dut.m_axis_tlast.value):
                    self.packet_last.append(self.cycle)
                    self.packet_beats.append(self.open_beats)
                    self.open_beats = 0


async def _drained(dut, trace: Trace, quiet_cycles: int) -> None:
    """Wait until no record has moved for `quiet_cycles` and the last S2MM beat closed its packet."""
    while True:
        await ClockCycles(dut.clk, 64)
        last_move = max(trace.records[-1:] + trace.buffer_last[-1:], default=0)
        if trace.cycle - last_move > quiet_cycles and trace.open_beats == 0 and not trace.in_buffer:
            return


@cocotb.test()
async def measure_transfer_costs(dut):
    """Trace one lone transfer and then the rest back to back; write the figures to TB_RESULT."""
    buffers: list[bytes] = pickle.loads(Path(os.environ["TB_BUFFERS"]).read_bytes())
    idle_cycles = int(os.environ["TB_IDLE_CYCLES"])
    mm2s = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
    s2mm = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
    axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
    for log in (mm2s.log, s2mm.log, axil.write_if.log, axil.read_if.log):
        log.setLevel("WARNING")
    await bench.start(dut)

    async def read(name: str) -> int:
        return await axil.read_dword(registers.offset(registers.resolve(name).name))

    for name, value in (("feed_filter_ip", ip_to_int(DEST_IP)), ("feed_filter_port", DEST_PORT),
                        ("feed_control", 1)):
        await axil.write_dword(registers.offset(registers.resolve(name).name), value)
    # After reset the book zeroes its RAMs with s_axis_tready low: once per bitstream load, not
    # per transfer, so it is timed apart (path into feed_to_book's own hierarchy).
    clearing = 0
    while not int(dut.feed_to_book_inst.order_book_inst.s_axis_tready.value):
        await RisingEdge(dut.clk)
        clearing += 1
    trace = Trace(dut)
    cocotb.start_soon(trace.run())

    await mm2s.send(AxiStreamFrame(buffers[0]))
    await mm2s.wait()
    await _drained(dut, trace, 2 * idle_cycles)
    lone = {
        "beats": len(buffers[0]) // len(dut.s_axis_tkeep),
        "first_beat_to_first_frame": trace.frame_first[0] - trace.buffer_first[0],
        "first_beat_to_first_record": trace.records[0] - trace.buffer_first[0],
        "last_beat_to_last_record": trace.records[-1] - trace.buffer_last[0],
        "last_record_to_tlast": trace.packet_last[-1] - trace.records[-1],
        "first_beat_to_last_tlast": trace.packet_last[-1] - trace.buffer_first[0],
        "records": len(trace.records),
        "mm2s_stalls": trace.mm2s_stalls,
    }
    lone_messages = sum([await read(name) for name in MESSAGE_COUNTERS])
    lone_packets, lone_records, stalls_before = len(trace.packet_last), len(trace.records), trace.mm2s_stalls

    for buffer in buffers[1:]:
        mm2s.send_nowait(AxiStreamFrame(buffer))
    await mm2s.wait()
    await _drained(dut, trace, 2 * idle_cycles)
    first = trace.buffer_first[1]
    end = max(trace.buffer_last[-1], trace.records[-1])
    gaps = [trace.buffer_first[k + 1] - trace.buffer_last[k] - 1 for k in range(1, len(buffers) - 1)]
    messages = sum([await read(name) for name in MESSAGE_COUNTERS])
    received = b"".join(bytes(f.tdata) for f in [s2mm.recv_nowait() for _ in range(s2mm.count())])
    burst_beats = sum(len(b) for b in buffers[1:]) // len(dut.s_axis_tkeep)
    result = {
        "lone_transfer": lone,
        "burst": {
            "buffers": len(buffers) - 1,
            "beats": burst_beats,
            "messages": messages - lone_messages,
            "records": len(trace.records) - lone_records,
            "cycles": end - first + 1,  # first MM2S beat to the last beat or record, whichever is later
            "cycles_mm2s": trace.buffer_last[-1] - first + 1,
            "mm2s_stalls": trace.mm2s_stalls - stalls_before,
            "gaps_between_buffers": gaps,
            "s2mm_packets": len(trace.packet_last) - lone_packets,
            "last_record_to_tlast": trace.packet_last[-1] - trace.records[-1],
        },
        "messages": messages,
        "clear_after_reset_cycles": clearing,
        "book_events": await read("book_events"),
        "records_counted": await read("book_bbo_updates") + await read("book_symbol_updates"),
        "records_seen": len(trace.records),
        "s2mm_beats": sum(trace.packet_beats),
        "order_store_full": await read("book_order_store_full"),
        "s2mm_bytes": len(received),
    }
    assert result["records_counted"] == result["records_seen"], "records lost between book and packetizer"
    assert result["s2mm_bytes"] == layout.RECORD_SLOT_BYTES * result["records_seen"], "S2MM bytes are not one slot per record"
    Path(os.environ["TB_RESULT"]).write_text(json.dumps(result, indent=1))
    Path(os.environ["TB_S2MM"]).write_bytes(received)
