"""The book-event record: one Python definition, generated Verilog header, lossless packing."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickaccel.schema import itch, records
from tickaccel.schema.bitfields import RecordLayout


def test_checked_in_verilog_header_is_current():
    assert records.HEADER_PATH.read_text() == records.verilog_header(), \
        "hw/rtl/book_event.vh is stale: run `python -m tickaccel.schema.records --write`"


def test_fields_tile_the_record_without_overlap():
    lsb = 0
    for name, width, _ in records.RECORD_FIELDS:
        assert records.FIELD_POSITIONS[name] == (lsb, width)
        lsb += width
    assert lsb == records.RECORD_WIDTH == 8 * records.RECORD_BYTES


@given(st.fixed_dictionaries({name: st.integers(0, (1 << width) - 1)
                              for name, width, _ in records.RECORD_FIELDS}))
def test_pack_unpack_bytes_and_array_round_trip(values):
    word = records.pack(values)
    assert records.unpack(word) == values
    assert records.from_bytes(records.to_bytes(word)) == word
    array = records.to_array([word])
    assert array.dtype == records.RECORD_DTYPE
    assert records.from_array(array) == [word]


def test_replace_carries_both_references_shares_and_price():
    msg = itch.make("U", stock_locate=7, timestamp=123456789, original_order_ref=11,
                    new_order_ref=12, shares=300, price=1_234_500)
    fields = records.unpack(records.from_message(itch.encode_message(msg), 99))
    assert fields == {"kind": ord("U"), "stock_locate": 7, "timestamp": 123456789, "seq": 99,
                      "order_ref": 11, "new_order_ref": 12, "side": 0, "shares": 300,
                      "price": 1_234_500}


def test_stock_directory_puts_symbol_in_new_order_ref():
    msg = itch.make("R", stock_locate=3, stock="AAPL")
    fields = records.unpack(records.from_message(itch.encode_message(msg), 1))
    assert fields["new_order_ref"].to_bytes(8, "big") == b"AAPL    "


def test_non_book_types_make_no_record():
    for mtype in set(itch.MESSAGES) - set(records.BOOK_EVENT_TYPES):
        assert records.from_message(itch.encode_message(itch.make(mtype)), 1) is None


def test_record_dtype_holds_every_field_width():
    for name, width, _ in records.RECORD_FIELDS:
        assert np.iinfo(records.RECORD_DTYPE[name]).bits >= width


def test_from_array_refuses_a_value_wider_than_its_field():
    array = records.to_array([0])
    array["timestamp"] = 1 << 48  # the column is 64 bits wide, the field 48
    with pytest.raises(ValueError, match="timestamp"):
        records.from_array(array)


def test_a_layout_takes_whole_byte_fields_only():
    with pytest.raises(ValueError, match="whole bytes"):
        RecordLayout("test", (("flag", 1, "one bit"),))
