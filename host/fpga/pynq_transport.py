"""The DMA transport: feed_to_book_dma on a PYNQ board (or the simulated one) through AXI DMA and MMIO.

Frames go down in one MM2S transfer per send buffer; records come up as S2MM
packets into a receive buffer that is always posted, re-posted as soon as a
packet lands, so the book never stalls for want of a buffer while Python is
busy sending. The CSRs are read and written by name through `pynq.MMIO` on
the IP's window from the .hwh. ``pynq`` is imported only when a transport is
opened without an explicit module: nothing else in tickaccel imports it.
"""
from __future__ import annotations

import importlib
import os

import numpy as np

from tickaccel.errors import BackendUnavailable, TickaccelError
from tickaccel.fpga import layout, registers, tcl

DMA_TYPE_PREFIX = "xilinx.com:ip:axi_dma:"
CORE_TYPE = f"{tcl.IP_VENDOR}:{tcl.IP_LIBRARY}:{tcl.IP_NAME}:{tcl.IP_VERSION}"
SEND_BUFFER_BYTES = 4 << 20


def _ip_of_type(ip_dict: dict, wanted: str, prefix: bool = False) -> str:
    names = [name for name, ip in ip_dict.items()
             if (ip.get("type", "").startswith(wanted) if prefix else ip.get("type") == wanted)]
    if len(names) != 1:
        raise TickaccelError(f"the overlay should hold one {wanted} IP, it holds {len(names)} "
                             f"({', '.join(sorted(ip_dict)) or 'no IP'})")
    return names[0]


class PynqTransport:
    """send_frames / receive_records / read_register / write_register over one overlay."""

    def __init__(self, bitstream: str | os.PathLike, *, send_buffer_bytes: int = SEND_BUFFER_BYTES, pynq=None) -> None:
        if pynq is None:
            try:
                pynq = importlib.import_module("pynq")
            except ImportError:
                raise BackendUnavailable("backend 'fpga' needs pynq, which ships on PYNQ board "
                                         "images (see docs/fpga.md)") from None
        if send_buffer_bytes % layout.STREAM_BYTES or send_buffer_bytes > layout.DMA_MAX_TRANSFER_BYTES:
            raise TickaccelError(f"send buffer of {send_buffer_bytes} bytes: must be a multiple of "
                                 f"{layout.STREAM_BYTES} and at most {layout.DMA_MAX_TRANSFER_BYTES}")
        self.pynq = pynq
        self.overlay = pynq.Overlay(os.fspath(bitstream))
        ip_dict = self.overlay.ip_dict
        self.dma = getattr(self.overlay, _ip_of_type(ip_dict, DMA_TYPE_PREFIX, prefix=True))
        core = ip_dict[_ip_of_type(ip_dict, CORE_TYPE)]
        if core["addr_range"] < registers.ADDRESS_RANGE:
            raise TickaccelError(f"the overlay maps {core['addr_range']:#x} bytes of CSRs; "
                                 f"feed_to_book needs {registers.ADDRESS_RANGE:#x}")
        self.mmio = pynq.MMIO(core["phys_addr"], registers.ADDRESS_RANGE)
        # The packet size is a parameter of the built core; the .hwh records it.
        records_per_packet = int(core["parameters"]["RECORDS_PER_PACKET"])
        self.send_buffer = pynq.allocate(shape=(send_buffer_bytes,), dtype=np.uint8)
        # One S2MM packet must fit, or the DMA stops with an internal error.
        self.recv_buffer = pynq.allocate(shape=(records_per_packet * layout.RECORD_SLOT_BYTES,),
                                         dtype=np.uint8)
        self.packets_received = 0
        self._received: list[bytes] = []
        self.dma.recvchannel.transfer(self.recv_buffer)

    @property
    def send_buffer_bytes(self) -> int:
        return self.send_buffer.nbytes

    def send_frames(self, batch: np.ndarray) -> None:
        """One DMA transfer of packed frames (`layout.pack_frames`); records are collected meanwhile."""
        n = batch.nbytes
        if not 0 < n <= self.send_buffer.nbytes:
            raise TickaccelError(f"a send batch is 1..{self.send_buffer.nbytes} bytes, got {n}")
        self.send_buffer[:n] = batch
        channel = self.dma.sendchannel
        channel.transfer(self.send_buffer, nbytes=n)
        while not channel.idle:
            self._collect()
        channel.wait()

    def receive_records(self) -> bytes:
        """Record slots of every S2MM packet landed since the last call."""
        self._collect()
        data = b"".join(self._received)
        self._received.clear()
        return data

    def _collect(self) -> None:
        channel = self.dma.recvchannel
        if channel.idle:
            channel.wait()  # raises on a DMA error, invalidates the cache, sets transferred
            self._received.append(self.recv_buffer[:channel.transferred].tobytes())
            self.packets_received += 1
            channel.transfer(self.recv_buffer)

    def read_register(self, name: str) -> int:
        return int(self.mmio.read(registers.offset(name)))

    def write_register(self, name: str, value: int) -> None:
        self.mmio.write(registers.offset(name), int(value))

    def close(self) -> None:
        for buffer in (self.send_buffer, self.recv_buffer):
            buffer.freebuffer()
