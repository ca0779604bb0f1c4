"""feed_to_book's AXI4-Lite map as one flat table of names, built from the RTL's own register tables.

The feed handler's registers (`tickaccel.schema.csr`) sit at ``book_csr.FEED_BASE``
and the book's (`tickaccel.schema.book_csr`) at ``book_csr.BOOK_BASE``; here each gets
its block as prefix (``feed_frames_in``, ``book_bbo_updates``), so one name
means one address. A bare name (``frames_in``) is accepted where only one
block has it. The same table becomes the IP's register map in the Vivado
flow (`tickaccel.fpga.tcl`), so PYNQ's ``register_map`` shows these names too.
"""
from __future__ import annotations

from dataclasses import dataclass

from tickaccel.schema import book_csr, csr
from tickaccel.errors import TickaccelError


@dataclass(frozen=True)
class MappedRegister:
    name: str      # block-qualified: feed_<name> or book_<name>
    block: str     # "feed" or "book"
    short: str     # the name in its block's table
    offset: int    # byte address on the s_axil port
    access: str
    description: str


def _build() -> tuple[MappedRegister, ...]:
    out = []
    for block, base, table in (("feed", book_csr.FEED_BASE, csr.REGISTERS),
                               ("book", book_csr.BOOK_BASE, book_csr.REGISTERS)):
        out += [MappedRegister(f"{block}_{r.name}", block, r.name, base + r.offset, r.access,
                               r.description) for r in table]
    return tuple(out)


REGISTERS: tuple[MappedRegister, ...] = _build()
BY_NAME: dict[str, MappedRegister] = {r.name: r for r in REGISTERS}
ADDRESS_WIDTH = book_csr.TOP_ADDRESS_WIDTH
ADDRESS_RANGE = 1 << ADDRESS_WIDTH
COUNTERS: tuple[str, ...] = tuple(r.name for r in REGISTERS if r.access == "counter")
FEED_DEVICE_ID = ("feed_device_id", csr.DEVICE_ID)
BOOK_DEVICE_ID = ("book_book_id", book_csr.DEVICE_ID)


def resolve(name: str) -> MappedRegister:
    """The register called `name`: qualified (``book_events``) or a bare name only one block has."""
    if name in BY_NAME:
        return BY_NAME[name]
    matches = [r for r in REGISTERS if r.short == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise TickaccelError(f"register {name!r} is in both blocks: say "
                             + " or ".join(r.name for r in matches))
    raise TickaccelError(f"no register {name!r} in feed_to_book's map "
                         f"(e.g. {REGISTERS[0].name}, book_bbo_updates)")


def offset(name: str) -> int:
    """Byte address of a register by name."""
    return resolve(name).offset
