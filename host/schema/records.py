"""The book-event record: the one contract between the feed parser and the book.

`RECORD_FIELDS` is the only definition of the record; the bit positions, the
NumPy dtype, the pack/unpack helpers and the Verilog header
``hw/rtl/book_event.vh`` (record layout plus the ITCH message-length table
and the field offsets the RTL decoder needs) are derived from it.
``python -m tickaccel.schema.records --write`` regenerates the header; a test fails
when the checked-in copy is stale.

Bit 0 of the record is the LSB of the first field. On an AXI-Stream bus the
record is one beat, so byte k of ``to_bytes`` is ``tdata[8k+7:8k]``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tickaccel import hw

from tickaccel.schema import itch
from tickaccel.schema.generated import header_main

# name, width in bits, what it holds
RECORD_FIELDS: tuple[tuple[str, int, str], ...] = (
    ("kind", 8, "ITCH message type byte (A F E C X D U R S)"),
    ("stock_locate", 16, "stock locate code"),
    ("timestamp", 48, "ns after midnight"),
    ("seq", 64, "MoldUDP64 sequence number of the message"),
    ("order_ref", 64, "order reference (U: the original order)"),
    ("new_order_ref", 64, "U: new order reference; R: stock symbol, 8 ASCII bytes, first in the MSB"),
    ("side", 8, "A/F: side byte (B or S); S: event code"),
    ("shares", 32, "A/F/U: shares; E/C: executed shares; X: cancelled shares"),
    ("price", 32, "A/F/U: price; C: execution price (1/10 000 dollar)"),
)

BOOK_EVENT_TYPES = "AFECXDURS"

# Message field feeding each record field, per type (header fields are implicit).
_SOURCES: dict[str, dict[str, str]] = {
    "A": {"order_ref": "order_ref", "side": "side", "shares": "shares", "price": "price"},
    "F": {"order_ref": "order_ref", "side": "side", "shares": "shares", "price": "price"},
    "E": {"order_ref": "order_ref", "shares": "executed_shares"},
    "C": {"order_ref": "order_ref", "shares": "executed_shares", "price": "execution_price"},
    "X": {"order_ref": "order_ref", "shares": "cancelled_shares"},
    "D": {"order_ref": "order_ref"},
    "U": {"order_ref": "original_order_ref", "new_order_ref": "new_order_ref",
          "shares": "shares", "price": "price"},
    "R": {"new_order_ref": "stock"},
    "S": {"side": "event_code"},
}


def _positions() -> dict[str, tuple[int, int]]:
    pos, lsb = {}, 0
    for name, width, _ in RECORD_FIELDS:
        pos[name] = (lsb, width)
        lsb += width
    return pos


FIELD_POSITIONS: dict[str, tuple[int, int]] = _positions()  # name -> (lsb, width)
RECORD_WIDTH = sum(w for _, w, _ in RECORD_FIELDS)
assert RECORD_WIDTH % 8 == 0
RECORD_BYTES = RECORD_WIDTH // 8

RECORD_DTYPE = np.dtype([
    (name, {8: "u1", 16: "u2", 32: "u4", 48: "u8", 64: "u8"}[width])
    for name, width, _ in RECORD_FIELDS
])


def pack(values: dict[str, int]) -> int:
    """Record fields (missing ones 0) as one RECORD_WIDTH-bit integer."""
    word = 0
    for name, value in values.items():
        lsb, width = FIELD_POSITIONS[name]
        value = int(value)
        if not 0 <= value < 1 << width:
            raise ValueError(f"{name}={value} does not fit {width} bits")
        word |= value << lsb
    return word


def unpack(word: int) -> dict[str, int]:
    """The fields of a RECORD_WIDTH-bit record integer."""
    return {name: (word >> lsb) & ((1 << width) - 1) for name, (lsb, width) in FIELD_POSITIONS.items()}


def to_bytes(word: int) -> bytes:
    return int(word).to_bytes(RECORD_BYTES, "little")


def from_bytes(data: bytes) -> int:
    if len(data) != RECORD_BYTES:
        raise ValueError(f"a record is {RECORD_BYTES} bytes, got {len(data)}")
    return int.from_bytes(data, "little")


def to_array(words) -> np.ndarray:
    """Record integers as a RECORD_DTYPE structured array."""
    out = np.zeros(len(words), dtype=RECORD_DTYPE)
    for i, word in enumerate(words):
        for name, value in unpack(word).items():
            out[i][name] = value
    return out


def from_array(records: np.ndarray) -> list[int]:
    return [pack({name: int(row[name]) for name in RECORD_DTYPE.names}) for row in records]


def _field_value(kind: str, value) -> int:
    if isinstance(value, str):
        width = 1 if kind == "c" else int(kind[1:])
        return int.from_bytes(value.encode("latin-1").ljust(width, b" "), "big")
    return int(value)


def record_fields(msg: tuple, seq: int) -> dict[str, int] | None:
    """The record fields of a decoded message (`itch.decode_message`), or None for non-book types."""
    mtype = msg.type
    if mtype not in _SOURCES:
        return None
    kinds = itch.field_offsets(mtype)
    values = {"kind": ord(mtype), "stock_locate": msg.stock_locate,
              "timestamp": msg.timestamp, "seq": seq}
    for field, source in _SOURCES[mtype].items():
        values[field] = _field_value(kinds[source][1], getattr(msg, source))
    return values


def from_message(data: bytes, seq: int) -> int | None:
    """The record integer of one message's wire bytes, or None for non-book types."""
    fields = record_fields(itch.decode_message(data), seq)
    return None if fields is None else pack(fields)


# ---- Verilog header ----

HEADER_PATH = Path(hw.__file__).resolve().parent / "rtl" / "book_event.vh"


def verilog_header() -> str:
    """Text of book_event.vh: record layout, message-length table, decoder field offsets."""
    lines = [
        "// Generated by `python -m tickaccel.schema.records --write` from host/schema/records.py",
        "// and host/schema/itch.py. Do not edit: a test fails when this file is stale.",
        "// Included inside a module body.",
        "",
        f"localparam BOOK_EVENT_WIDTH = {RECORD_WIDTH};",
    ]
    for name, width, what in RECORD_FIELDS:
        lsb, _ = FIELD_POSITIONS[name]
        upper = name.upper()
        lines.append(f"localparam REC_{upper}_LSB = {lsb};")
        lines.append(f"localparam REC_{upper}_WIDTH = {width};  // {what}")
    lines += [
        "",
        f"localparam ITCH_MAX_MESSAGE_LENGTH = {itch.MAX_MESSAGE_LENGTH};",
        "",
        "// Byte offset (from the type byte) of each message field the decoder reads.",
    ]
    wanted = {"stock_locate", "timestamp"}
    for mtype, sources in _SOURCES.items():
        for source in sorted(set(sources.values()) | wanted):
            off, _ = itch.field_offsets(mtype)[source]
            lines.append(f"localparam ITCH_{mtype}_{source.upper()}_OFFSET = {off};")
    lines += [
        "",
        "// Length (type byte included) of each ITCH 5.0 message type; 0: unknown type.",
        "function [7:0] itch_message_length;",
        "    input [7:0] message_type;",
        "    begin",
        "        case (message_type)",
    ]
    for mtype, length in itch.MESSAGE_LENGTHS.items():
        lines.append(f"            8'h{ord(mtype):02x}: itch_message_length = 8'd{length};  // {mtype}")
    lines += [
        "            default: itch_message_length = 8'd0;",
        "        endcase",
        "    end",
        "endfunction",
        "",
        "// 1 for the types that become a book event record.",
        "function is_book_event_type;",
        "    input [7:0] message_type;",
        "    begin",
        "        case (message_type)",
        "            " + ", ".join(f"8'h{ord(t):02x}" for t in BOOK_EVENT_TYPES)
        + f": is_book_event_type = 1'b1;  // {BOOK_EVENT_TYPES}",
        "            default: is_book_event_type = 1'b0;",
        "        endcase",
        "    end",
        "endfunction",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(header_main(HEADER_PATH, verilog_header))
