"""cocotb side of the simulated board: feed_to_book_dma with an AXI DMA model, served to the host driver.

Runs inside the simulator (started by `tickaccel.fpga.sim_board` with a
`tickaccel.sim.job.BoardJob` in its plusargs). It connects to the host over the
job's socket and carries out the host's requests: start an MM2S transfer (the
buffer's bytes as one stream packet, tlast on its last beat, as AXI DMA in simple
mode sends it), post an S2MM receive of N bytes (one packet at most, then the
stream stalls until the next post, as the DMA does; a packet longer than the
posted buffer is a DMA error), let simulated time pass and report both channels,
and read or write the CSRs over AXI4-Lite. The job's backpressure adds random
stalls on the S2MM side.
Before serving, it checks every port the Vivado flow names (`tickaccel.fpga.tcl`)
exists with the generated width.
"""
from __future__ import annotations

import random
from multiprocessing.connection import Client

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
from tickaccel.fpga import tcl
from tickaccel.sim.job import BoardJob

CLOCK_NS = 10.0  # 100 MHz, the PYNQ-Z2 overlay's PL clock


class DmaModel:
    """AXI DMA in simple mode around the DUT's two streams."""

    def __init__(self, dut, backpressure: float, seed: int) -> None:
        self.dut = dut
        self.mm2s = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
        self.s2mm = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
        for bus in (self.mm2s, self.s2mm):
            bus.log.setLevel("WARNING")
        self.posted = 0          # bytes of the posted S2MM buffer, 0 when none
        self.done: bytes | None = None
        self.error = ""
        self.packets = 0
        self.rng = random.Random(seed)
        self.backpressure = backpressure
        self.s2mm.pause = True
        cocotb.start_soon(self._s2mm_engine())

    async def _s2mm_engine(self) -> None:
        while True:
            await RisingEdge(self.dut.clk)
            if self.posted and not self.s2mm.empty():
                frame = self.s2mm.recv_nowait()
                data = bytes(frame.tdata)
                if len(data) > self.posted:
                    self.error = (f"S2MM packet of {len(data)} bytes overflows the posted "
                                  f"{self.posted}-byte buffer")
                self.done, self.posted = data[:self.posted], 0
                self.packets += 1
            self.s2mm.pause = not self.posted or self.rng.random() < self.backpressure


@cocotb.test()
async def serve_host(dut):
    """Serve the host driver's DMA and register requests until it closes the board."""
    for _, _, _, ports in tcl.INTERFACES:
        for _, physical, width in ports:
            assert len(getattr(dut, physical)) == width, f"{physical}: {len(getattr(dut, physical))} bits"
    job = BoardJob.from_plusargs(cocotb.plusargs)
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    dma = DmaModel(dut, job.backpressure, job.seed)
    axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
    axil.write_if.log.setLevel("WARNING")
    axil.read_if.log.setLevel("WARNING")
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)

    host = Client(job.socket, family="AF_UNIX")
    while True:
        request = host.recv()  # the simulation waits while the host thinks, as a board would not
        op = request[0]
        if op == "mm2s":
            dma.mm2s.send_nowait(AxiStreamFrame(request[1]))
            host.send(None)
        elif op == "s2mm":
            dma.posted, dma.done = request[1], None
            host.send(None)
        elif op == "run":
            await ClockCycles(dut.clk, request[1])
            done, dma.done = dma.done, None
            host.send({"mm2s_idle": dma.mm2s.idle(), "s2mm_done": done, "error": dma.error})
        elif op == "read":
            host.send(await axil.read_dword(request[1]))
        elif op == "write":
            await axil.write_dword(request[1], request[2])
            host.send(None)
        elif op == "close":
            host.send({"packets": dma.packets})
            host.close()
            return
        else:
            raise ValueError(f"unknown board request {op!r}")
