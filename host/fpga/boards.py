"""The boards the overlay is built for: part, processing system, HP port, clock and book size.

One table for the Vivado flow (written into ``hw/vivado/generated_params.tcl``
by `tickaccel.fpga.tcl`), the driver (receive buffer size) and the throughput
estimate (``bench/fpga_dma.py``). Book capacities are sized so the book's
memories (`book_memories`, the RTL's widths and depths) fit the part's block
RAM and UltraRAM with room for the AXI DMA; a test holds every board to that,
another checks the estimate against Yosys' mapping. The clock is the PL clock
the block design asks the PS for.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from tickaccel.errors import TickaccelError
from tickaccel.hw.params import BookParams

# The book parameters feed_to_book (and so feed_to_book_dma) takes; BookParams may know more.
BOOK_PARAMETERS = ("MAX_SYMBOLS", "ORDER_BUCKET_BITS", "ORDER_WAYS", "LEVELS", "TOP_N", "BLOCK_LEVELS",
                   "LEVEL_BLOCKS")


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
    ramb36: int             # the part's 36 Kbit block RAMs
    uram: int               # the part's 288 Kbit UltraRAMs (0 before UltraScale+)
    book: BookParams
    records_per_packet: int = 1024
    idle_us: float = 10.0   # packet closes after this long without a record

    @property
    def idle_cycles(self) -> int:
        return int(self.idle_us * self.pl_clock_mhz)

    def rtl_parameters(self) -> dict[str, int]:
        """feed_to_book_dma's Verilog parameters for this board."""
        book = self.book.verilog()
        return {**{name: book[name] for name in BOOK_PARAMETERS}, "ULTRA_RAM": int(self.book.ultra_ram),
                "HEAD_ULTRA_RAM": int(self.book.ultra_ram_head),
                "RECORDS_PER_PACKET": self.records_per_packet, "IDLE_CYCLES": self.idle_cycles}

    def book_ramb36(self) -> float:
        """Block RAMs (RAMB36, a RAMB18 counting half) the book's memories take."""
        return sum(ramb36_blocks(w, d) for w, d, ultra in book_memories(self.book).values() if not ultra)

    def book_uram(self) -> int:
        """UltraRAMs the book's memories take."""
        return sum(uram_blocks(w, d) for w, d, ultra in book_memories(self.book).values() if ultra)

    def as_dict(self) -> dict:
        return {**asdict(self), "idle_cycles": self.idle_cycles, "book_ramb36": self.book_ramb36(),
                "book_uram": self.book_uram()}


# Share of a part's block RAM the book may take: the AXI DMA's buffers and the
# interconnect need some, and a fuller part routes badly.
BOOK_RAM_SHARE = 0.8
# Block RAM shapes (width, depth) of a RAMB36 (simple dual port 72 x 512 and the
# true-dual-port aspect ratios) and of a RAMB18, half of one.
_RAMB36_SHAPES = ((72, 512), (36, 1024), (18, 2048), (9, 4096), (4, 8192), (2, 16384), (1, 32768))
_RAMB18_SHAPES = ((36, 512), (18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384))


def ramb36_blocks(width: int, depth: int) -> float:
    """RAMB36 blocks for one width x depth memory, in the cheapest single aspect ratio."""
    whole = min(math.ceil(width / w) * math.ceil(depth / d) for w, d in _RAMB36_SHAPES)
    half = min(math.ceil(width / w) * math.ceil(depth / d) for w, d in _RAMB18_SHAPES)
    return min(float(whole), half / 2)


def uram_blocks(width: int, depth: int) -> int:
    """UltraRAMs (4 K x 72) for one width x depth memory."""
    return math.ceil(width / 72) * math.ceil(depth / 4096)


def book_memories(params: BookParams) -> dict[str, tuple[int, int, bool]]:
    """(width, depth, in UltraRAM) of each memory of order_book, from the widths its RTL declares."""
    locate = max(1, math.ceil(math.log2(params.max_symbols)))
    slot = max(1, math.ceil(math.log2(params.levels)))
    books = 2 * params.max_symbols
    blocks = params.pool_blocks                             # LEVEL_BLOCKS
    block = max(1, math.ceil(math.log2(blocks)))            # price_levels.v BLOCK_WIDTH
    level = 32 + 64 + 32                                    # {count, shares, price}
    order_entry = block + slot + 32 + 32 + 1 + locate       # order_store.v ENTRY_WIDTH: the level's {block, slot}
    order_way = 1 + 64 + order_entry                        # {valid, reference, entry}
    tags = params.levels * 8                                # price_levels.v: TAG_BITS per slot
    pointers = params.levels // params.pool_block_levels * block  # a pool block per block of the side
    head = (params.top_n * (slot + level) + math.ceil(math.log2(params.top_n + 1)) + slot + 1 + params.levels
            + tags + pointers)
    ultra = params.ultra_ram  # ULTRA_RAM: the order store's tables and the level pool (sdp_ram instances)
    return {
        # two cuckoo tables of half the buckets each, a RAM per way (the stash is registers)
        **{f"order_store.table{t}.way{w}": (order_way, 1 << (params.order_bucket_bits - 1), ultra)
           for t in (0, 1) for w in range(params.order_ways)},
        "price_levels.head": (head, books, params.ultra_ram_head),
        "price_levels.level": (level, blocks * params.pool_block_levels, ultra),  # the pool
        "price_levels.free": (block, blocks, False),         # the free list of pool blocks
        "bbo": (192, params.max_symbols, False),
        "stale": (32, max(1, params.max_symbols // 32), False),
        "stale_csr": (32, max(1, params.max_symbols // 32), False),  # the CSR window's copy
        "symbol": (64, params.max_symbols, False),
    }


# Levels come from one market-wide pool (LEVEL_BLOCKS blocks of BLOCK_LEVELS), so a part holds
# live levels, not symbols times LEVELS; each symbol and side still costs a head word (its bitmap,
# tags, TOP_N cache and block pointers), which is what bounds the symbols. Every set has a pool block
# for each side (LEVEL_BLOCKS >= 2 * MAX_SYMBOLS). On the UltraScale+ parts the order store and the
# pool go to UltraRAM, on the KV260 the head words too.
BOARDS: dict[str, Board] = {b.name: b for b in (
    Board("pynq-z2", "TUL PYNQ-Z2 (Zynq-7020)", "xc7z020clg400-1", "tul.com.tw:pynq-z2:part0:1.0",
          "zynq7", "S_AXI_HP0", 64, "M_AXI_GP0", 100, 140, 0,
          BookParams(max_symbols=2048, order_bucket_bits=10, order_ways=4, levels=16, top_n=1,
                     block_levels=2, level_blocks=4096)),
    Board("zcu104", "Xilinx ZCU104 (ZU7EV)", "xczu7ev-ffvc1156-2-e", "xilinx.com:zcu104:part0:1.1",
          "zynqmp", "S_AXI_HP0_FPD", 128, "M_AXI_HPM0_FPD", 200, 312, 96,
          BookParams(max_symbols=8192, order_bucket_bits=13, order_ways=4, levels=16, top_n=1,
                     block_levels=4, level_blocks=16384, ultra_ram=True)),
    Board("kv260", "Kria KV260 (K26 SOM)", "xck26-sfvc784-2LV-c", "xilinx.com:kv260_som:part0:1.3",
          "zynqmp", "S_AXI_HP0_FPD", 128, "M_AXI_HPM0_FPD", 200, 144, 64,
          BookParams(max_symbols=8192, order_bucket_bits=13, order_ways=2, levels=8, top_n=1,
                     block_levels=2, level_blocks=16384, ultra_ram=True, ultra_ram_head=True)),
)}


def board(name: str) -> Board:
    """The board called `name`, or a clear error listing the supported ones."""
    try:
        return BOARDS[name]
    except KeyError:
        raise TickaccelError(f"unknown board {name!r}; supported: {', '.join(BOARDS)}") from None
