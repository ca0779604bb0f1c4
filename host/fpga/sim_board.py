"""The simulated board: feed_to_book_dma under cocotb, dressed as the slice of PYNQ the driver uses.

`SimulatedPynq` offers ``Overlay``, ``allocate`` and ``MMIO`` with the
behaviour of the real ones that `PynqTransport` relies on (DMA channels with
``transfer``/``idle``/``wait``/``transferred`` and PYNQ's alignment and size
checks, buffers with ``physical_address``/``flush``/``invalidate``/
``freebuffer``, 32-bit register reads and writes), each request carried out
by the RTL in the simulator (`tickaccel.sim.tb_sim_board`). So the board and
CI run the same transport code; only this module stands in for the silicon.
Each poll of a channel lets ``poll_cycles`` clock cycles pass, as time passes
while Python polls a real board.
"""
from __future__ import annotations

import itertools
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection, Listener
from pathlib import Path

import numpy as np

from tickaccel.errors import BackendUnavailable, TickaccelError
from tickaccel.sim import runner
from tickaccel.sim.job import BoardJob
from tickaccel.fpga import layout, registers, tcl
from tickaccel.fpga.boards import Board
from tickaccel.fpga.pynq_transport import SEND_BUFFER_BYTES, PynqTransport

DMA_BASE = 0x4040_0000
CORE_BASE = 0x4300_0000
DMA_VLNV = "xilinx.com:ip:axi_dma:7.1"
CORE_VLNV = f"{tcl.IP_VENDOR}:{tcl.IP_LIBRARY}:{tcl.IP_NAME}:{tcl.IP_VERSION}"
CONNECT_TIMEOUT_S = 600.0  # the first build of feed_to_book_dma takes a while


class SimBuffer(np.ndarray):
    """A `pynq.allocate` buffer: page-aligned physical address, cache calls counted."""

    physical_address: int
    flushes: int
    invalidates: int
    freed: bool

    def flush(self) -> None:
        self.flushes += 1

    def invalidate(self) -> None:
        self.invalidates += 1

    def freebuffer(self) -> None:
        self.freed = True


def simulate(top: str, sources: tuple[str, ...], test_module: str, parameters: dict[str, int], *,
             simulator: str | None = None, env: dict[str, str] | None = None,
             plusargs: Sequence[str] = (), log: Path | None = None) -> Path:
    """Build `top` from `sources` (files of ``hw/rtl``) and run the cocotb tests of `test_module`.

    For the DMA-facing tops `tickaccel.hw.params.TOPS` has no entry for; the build
    folder comes from `runner.build_dir`, so each parameter set keeps its own.
    `plusargs` reach the testbench as `cocotb.plusargs` (a `tickaccel.sim.job` job).
    Output goes to `log` (default ``run.log`` in the build folder); raises
    `TickaccelError` naming it when a test fails or none ran. Returns the build folder.
    """
    from cocotb_tools.runner import get_results, get_runner

    simulator = simulator or runner.default_simulator()
    build = runner.build_dir(top, simulator, parameters)
    build.mkdir(parents=True, exist_ok=True)
    log = log or build / "run.log"
    sim = get_runner(simulator)
    sim.build(sources=[runner.RTL_DIR / f for f in sources], includes=[runner.RTL_DIR],
              hdl_toplevel=top, parameters=parameters, build_dir=build,
              build_args=["-Wno-fatal", "-Wno-WIDTH"] if simulator == "verilator" else [],
              timescale=("1ns", "1ps"), log_file=build / "build.log")
    failure = f"cocotb tests of {test_module} failed on {top}: see {log}"
    try:
        results = sim.test(test_module=test_module, hdl_toplevel=top, parameters=parameters,
                           build_dir=build, test_dir=build, extra_env=dict(env or {}),
                           plusargs=list(plusargs),
                           results_xml=str(build / f"results-{os.getpid()}.xml"), log_file=log)
    except SystemExit:  # what cocotb's runner does on a failed test when it runs under pytest
        raise TickaccelError(failure) from None
    total, failed = get_results(results)
    if failed or not total:
        raise TickaccelError(f"{failed} of {total} {failure}")
    return build


class _Board:
    """The running simulation and the connection to its testbench."""

    def __init__(self, board: Board, simulator: str, backpressure: float, seed: int,
                 poll_cycles: int) -> None:
        self.board, self.poll_cycles = board, poll_cycles
        self._tmp = tempfile.TemporaryDirectory(prefix="tickaccel-board-")
        address = str(Path(self._tmp.name) / "board.sock")
        self._listener = Listener(address, family="AF_UNIX")
        self._failure: BaseException | None = None
        self.parameters = {"DATA_WIDTH": layout.STREAM_WIDTH, **board.rtl_parameters()}
        self.build = runner.build_dir("feed_to_book_dma", simulator, self.parameters)
        self.log = self.build / "board.log"
        job = BoardJob(socket=address, backpressure=backpressure, seed=seed)
        self._thread = threading.Thread(target=self._simulate, args=(simulator, job), daemon=True)
        self._thread.start()
        self.conn = self._accept()
        self.next_address = itertools.count(0x1000_0000, 0x0100_0000)

    def _simulate(self, simulator: str, job: BoardJob) -> None:
        try:
            simulate(tcl.TOP, tcl.RTL_SOURCES, "tickaccel.sim.tb_sim_board", self.parameters,
                     simulator=simulator, plusargs=job.plusargs(), log=self.log)
        except BaseException as exc:  # reported to the host thread, which is waiting on the socket
            self._failure = exc

    def _accept(self) -> Connection:
        # Listener.accept cannot time out, so wait for the testbench on a helper thread.
        accepted: list[Connection] = []
        waiter = threading.Thread(target=lambda: accepted.append(self._listener.accept()), daemon=True)
        waiter.start()
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while not accepted:
            if not self._thread.is_alive():
                raise TickaccelError(f"the simulated board did not start: {self._failure} "
                                     f"(logs under {self.log.parent})")
            if time.monotonic() > deadline:
                raise TickaccelError(f"the simulated board did not connect in {CONNECT_TIMEOUT_S:.0f} s")
            waiter.join(0.05)
        return accepted[0]

    def request(self, *message):
        self.conn.send(message)
        return self.conn.recv()

    def close(self) -> dict:
        summary = self.request("close")
        self.conn.close()
        self._thread.join()
        self._listener.close()
        self._tmp.cleanup()
        if self._failure is not None:
            raise self._failure
        return summary


class _Channel:
    """One direction of the simulated AXI DMA, with pynq's `_SDMAChannel` interface and checks."""

    def __init__(self, board: _Board, dma: _Dma, send: bool, width_bytes: int, max_size: int) -> None:
        self._board, self._dma, self._send = board, dma, send
        self._align, self._max_size = width_bytes, max_size
        self._active: SimBuffer | None = None
        self._busy = False
        self.transferred = 0

    def transfer(self, array: SimBuffer, start: int = 0, nbytes: int = 0) -> None:
        if self._busy:
            raise RuntimeError("DMA channel not idle")
        if nbytes == 0:
            nbytes = array.nbytes - start
        if nbytes > self._max_size:
            raise ValueError(f"Transfer size is {nbytes} bytes, which exceeds the maximum DMA "
                             f"buffer size {self._max_size}.")
        if (array.physical_address + start) % self._align:
            raise RuntimeError(f"DMA does not support unaligned transfers; Starting address must "
                               f"be aligned to {self._align} bytes.")
        self.transferred = 0
        self._active, self._busy = array, True
        self._start, self._nbytes = start, nbytes
        if self._send:
            array.flush()
            self._board.request("mm2s", array[start:start + nbytes].tobytes())
        else:
            self._board.request("s2mm", nbytes)

    @property
    def idle(self) -> bool:
        if self._busy:
            self._dma.poll()
        return not self._busy

    def _complete(self, received: bytes | None = None) -> None:
        if received is not None:
            self._active[self._start:self._start + len(received)] = np.frombuffer(received, np.uint8)
            self._received = len(received)
        self._busy = False

    def wait(self) -> None:
        while self._busy:
            self._dma.poll()
        if not self._send:
            self._active.invalidate()
            self.transferred = self._received
        else:
            self.transferred = self._nbytes


class _Dma:
    """The overlay's AXI DMA: ``sendchannel`` (MM2S) and ``recvchannel`` (S2MM)."""

    def __init__(self, board: _Board, width_bytes: int) -> None:
        self._board = board
        limit = (1 << layout.DMA_LENGTH_WIDTH) - 1
        self.sendchannel = _Channel(board, self, True, width_bytes, limit)
        self.recvchannel = _Channel(board, self, False, width_bytes, limit)

    def poll(self) -> None:
        status = self._board.request("run", self._board.poll_cycles)
        if status["error"]:
            raise RuntimeError(f"DMA Internal Error: {status['error']}")
        if self.sendchannel._busy and status["mm2s_idle"]:
            self.sendchannel._complete()
        if status["s2mm_done"] is not None:
            self.recvchannel._complete(status["s2mm_done"])


class _Mmio:
    """`pynq.MMIO` over the simulated AXI4-Lite port."""

    def __init__(self, board: _Board, base: int, length: int) -> None:
        self._board, self.base_addr, self.length = board, base, length

    def _offset(self, offset: int) -> int:
        if offset % 4 or not 0 <= offset < self.length:
            raise ValueError(f"MMIO offset 0x{offset:x} outside 0..0x{self.length:x} or not word aligned")
        return offset

    def read(self, offset: int = 0, length: int = 4) -> int:
        return self._board.request("read", self._offset(offset))

    def write(self, offset: int, value: int) -> None:
        self._board.request("write", self._offset(offset), int(value) & 0xFFFF_FFFF)


class _Overlay:
    def __init__(self, board: _Board, bitfile_name: str) -> None:
        self.bitfile_name = bitfile_name
        width = board.board.hp_width // 8
        self.ip_dict = {
            "dma": {"type": DMA_VLNV, "phys_addr": DMA_BASE, "addr_range": 0x1_0000},
            "feed_to_book_0": {"type": CORE_VLNV, "phys_addr": CORE_BASE,
                               "addr_range": registers.ADDRESS_RANGE,
                               "parameters": {k: str(v) for k, v in board.parameters.items()}},
        }
        self.dma = _Dma(board, width)


class SimulatedPynq:
    """The `pynq` module as `PynqTransport` uses it, backed by the simulated board."""

    def __init__(self, board: Board, *, simulator: str | None = None, backpressure: float = 0.0,
                 seed: int = 1, poll_cycles: int = 64) -> None:
        found = runner.available_simulators()
        simulator = simulator or (found[0] if found else None)
        if simulator is None or simulator not in found:
            raise BackendUnavailable("the simulated board needs an HDL simulator: install iverilog "
                                     "(Icarus Verilog) or verilator")
        self.simulator = simulator
        self._board = _Board(board, simulator, backpressure, seed, poll_cycles)
        self.buffers: list[SimBuffer] = []

    def Overlay(self, bitfile_name: str) -> _Overlay:
        return _Overlay(self._board, bitfile_name)

    def MMIO(self, base_addr: int, length: int = 4) -> _Mmio:
        if base_addr != CORE_BASE:
            raise ValueError(f"nothing mapped at 0x{base_addr:x} on the simulated board")
        return _Mmio(self._board, base_addr, length)

    def allocate(self, shape, dtype=np.uint32, **_) -> SimBuffer:
        buffer = np.zeros(shape, dtype).view(SimBuffer)
        buffer.physical_address = next(self._board.next_address)
        buffer.flushes = buffer.invalidates = 0
        buffer.freed = False
        self.buffers.append(buffer)
        return buffer

    def close(self) -> dict:
        """End the simulation; returns the testbench's own count of S2MM packets."""
        return self._board.close()


class SimTransport(PynqTransport):
    """`PynqTransport` on the simulated board; closing it ends the simulation."""

    def __init__(self, board: Board, *, simulator: str | None = None, backpressure: float = 0.0,
                 seed: int = 1, poll_cycles: int = 64, send_buffer_bytes: int = SEND_BUFFER_BYTES) -> None:
        self.simulated = SimulatedPynq(board, simulator=simulator, backpressure=backpressure,
                                       seed=seed, poll_cycles=poll_cycles)
        try:
            super().__init__("feed_to_book.bit", pynq=self.simulated, send_buffer_bytes=send_buffer_bytes)
        except BaseException:
            self.simulated.close()
            raise
        self.board_summary: dict = {}

    def close(self) -> None:
        super().close()
        self.board_summary = self.simulated.close()
