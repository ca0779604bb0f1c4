"""How the RTL is built: each top's source files and the order book's parameters.

The simulator runner (`tickaccel.sim.runner`), the Vivado flow and the board table
(`tickaccel.fpga.tcl`, `.boards`), the simulated replay backend (`tickaccel.batch.sim`)
and the book's reference model in the testbenches all take them from here, so a top
means the same files and a size the same memories everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass

# Each top with the RTL files (in hw/rtl/) it needs, leaves first.
TOPS: dict[str, tuple[str, ...]] = {
    "udp_rx_filter": ("udp_rx_filter.v",),
    "moldudp64_rx": ("moldudp64_rx.v",),
    "itch_extract": ("itch_extract.v",),
    "itch_decode": ("itch_decode.v",),
    "feed_csr": ("feed_csr.v",),
    "feed_handler": ("udp_rx_filter.v", "moldudp64_rx.v", "itch_extract.v", "itch_decode.v",
                     "feed_csr.v", "feed_handler.v"),
}
TOPS["order_book"] = ("sdp_ram.v", "order_store.v", "price_levels.v", "order_book.v")
TOPS["feed_to_book"] = TOPS["feed_handler"] + ("sdp_ram.v", "order_store.v", "price_levels.v", "order_book.v",
                                              "book_csr.v", "axil_split.v", "feed_to_book.v")


@dataclass(frozen=True)
class BookParams:
    """order_book's Verilog parameters (and so feed_to_book's), by their Python names."""

    max_symbols: int = 4096
    order_bucket_bits: int = 14
    order_ways: int = 4
    levels: int = 64
    top_n: int = 8
    depth_out: int = 0  # levels per side carried in B records (0: BBO only), at most top_n
    ultra_ram: bool = False  # order store and level pool in UltraRAM (UltraScale+ parts)
    ultra_ram_head: bool = False  # price_levels' head words (per symbol and side) in UltraRAM too
    # The level pool: level_blocks blocks of block_levels levels for the whole market, a side
    # holding up to levels / block_levels of them. 0: the defaults, block_levels min(8, levels)
    # and as many blocks as every side's levels fill (nothing refused for want of a block).
    block_levels: int = 0
    level_blocks: int = 0
    # The level pool's block RAM built as memories this many bits wide side by side (0: one):
    # 4 puts a pool of 4 096 levels in 4096 x 4 block RAMs (ECP5, RAMB18), each read straight
    # into flip-flops, where one memory is stacked from shallower blocks behind a multiplexer.
    level_ram_slice: int = 0

    @property
    def pool_block_levels(self) -> int:
        """BLOCK_LEVELS: levels per pool block."""
        return self.block_levels or min(8, self.levels)

    @property
    def pool_blocks(self) -> int:
        """LEVEL_BLOCKS: blocks in the market-wide level pool."""
        return self.level_blocks or 2 * self.max_symbols * self.levels // self.pool_block_levels

    def verilog(self) -> dict[str, int]:
        # DEPTH_OUT, ULTRA_RAM and LEVEL_RAM_SLICE only when set: tops that wrap the book without them keep
        # their parameters (and simulation builds their folders)
        optional = {**({"DEPTH_OUT": self.depth_out} if self.depth_out else {}),
                    **({"ULTRA_RAM": 1} if self.ultra_ram else {}),
                    **({"HEAD_ULTRA_RAM": 1} if self.ultra_ram_head else {}),
                    **({"LEVEL_RAM_SLICE": self.level_ram_slice} if self.level_ram_slice else {})}
        return {"MAX_SYMBOLS": self.max_symbols, "ORDER_BUCKET_BITS": self.order_bucket_bits,
                "ORDER_WAYS": self.order_ways, "LEVELS": self.levels, "TOP_N": self.top_n,
                "BLOCK_LEVELS": self.pool_block_levels, "LEVEL_BLOCKS": self.pool_blocks, **optional}
