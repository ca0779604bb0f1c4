"""The feed handler's register map: one Python table, generated Verilog header, driver lookup."""
from __future__ import annotations

from tickaccel.schema import csr, itch


def test_checked_in_verilog_header_is_current():
    assert csr.HEADER_PATH.read_text() == csr.verilog_header(), \
        "hw/rtl/feed_csr_map.vh is stale: run `python -m tickaccel.schema.csr --write`"


def test_offsets_are_unique_word_aligned_and_in_range():
    offsets = [r.offset for r in csr.REGISTERS]
    assert len(set(offsets)) == len(offsets)
    assert all(o % 4 == 0 and o < 1 << csr.ADDRESS_WIDTH for o in offsets)
    assert len(csr.BY_NAME) == len(csr.REGISTERS)


def test_every_message_type_has_a_counter():
    for mtype in itch.MESSAGES:
        assert csr.BY_NAME[csr.MESSAGE_COUNTER[mtype]].access == "counter"


def test_driver_finds_registers_by_name():
    assert csr.offset("device_id") == 0
    assert csr.offset("frames_in") == csr.COUNTER_BASE
    assert csr.BY_NAME["control"].access == "rw"
