"""The boards the overlay is built for: part, processing system, HP port, clock and book size.

One table for the Vivado flow (written into ``hw/vivado/generated_params.tcl``
by `tickaccel.fpga.tcl`), the driver (receive buffer size) and the throughput
estimate (``bench/fpga_dma.py``). Book capacities are sized to the part's
block RAM; the clock is the PL clock the block design asks the PS for.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import TickaccelError
from ..sim.book_model import BookParams

# The book parameters feed_to_book (and so feed_to_book_dma) takes; BookParams may know more.
BOOK_PARAMETERS = ("MAX_SYMBOLS", "ORDER_BUCKET_BITS", "ORDER_WAYS", "LEVELS", "TOP_N")


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    part: str
    board_part: str
    ps: str                 # "zynq7" (Zynq-7000) or "zynqmp" (Zynq UltraScale+)
    hp_port: str            # PS slave port the DMA masters write and read DDR through
    hp_width: int           # its data width in bits
    control_port: str       # PS master port for AXI-Lite (DMA registers and the CSRs)
    pl_clock_mhz: int
    book: BookParams
    records_per_packet: int = 1024
    idle_us: float = 10.0   # packet closes after this long without a record

    @property
    def idle_cycles(self) -> int:
        return int(self.idle_us * self.pl_clock_mhz)

    def rtl_parameters(self) -> dict[str, int]:
        """feed_to_book_dma's Verilog parameters for this board."""
        book = self.book.verilog()
        return {**{name: book[name] for name in BOOK_PARAMETERS},
                "RECORDS_PER_PACKET": self.records_per_packet, "IDLE_CYCLES": self.idle_cycles}

    def as_dict(self) -> dict:
        return {**asdict(self), "idle_cycles": self.idle_cycles}


BOARDS: dict[str, Board] = {b.name: b for b in (
    Board("pynq-z2", "TUL PYNQ-Z2 (Zynq-7020)", "xc7z020clg400-1", "tul.com.tw:pynq-z2:part0:1.0",
          "zynq7", "S_AXI_HP0", 64, "M_AXI_GP0", 100,
          # 140 BRAM36: 16 K orders and 1 K symbols leave room for the feed handler's FIFOs
          BookParams(max_symbols=1024, order_bucket_bits=12, order_ways=4, levels=32, top_n=8)),
    Board("zcu104", "Xilinx ZCU104 (ZU7EV)", "xczu7ev-ffvc1156-2-e", "xilinx.com:zcu104:part0:1.1",
          "zynqmp", "S_AXI_HP0_FPD", 128, "M_AXI_HPM0_FPD", 200,
          BookParams()),
    Board("kv260", "Kria KV260 (K26 SOM)", "xck26-sfvc784-2LV-c", "xilinx.com:kv260_som:part0:1.3",
          "zynqmp", "S_AXI_HP0_FPD", 128, "M_AXI_HPM0_FPD", 200,
          BookParams(max_symbols=4096, order_bucket_bits=13, order_ways=4, levels=64, top_n=8)),
)}


def board(name: str) -> Board:
    """The board called `name`, or a clear error listing the supported ones."""
    try:
        return BOARDS[name]
    except KeyError:
        raise TickaccelError(f"unknown board {name!r}; supported: {', '.join(BOARDS)}") from None
