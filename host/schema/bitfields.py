"""Bit-level record layouts: unsigned fields packed LSB first, one scheme for every record.

A `RecordLayout` is built from one tuple of (name, width in bits, description) fields and
derives the rest: bit positions, the NumPy dtype, pack/unpack of one record as a Python
integer, its bytes, the bulk NumPy conversions and the Verilog localparams of a generated
header. `tickaccel.schema.records` (book event) and `tickaccel.schema.bbo_records` (BBO
update) each declare their fields and use one.

Bit 0 of a record is the LSB of its first field. A record's bytes are little-endian: on an
AXI-Stream bus that carries the record in one beat, byte k is ``tdata[8k+7:8k]``. Fields
are whole bytes of at most 64 bits, so each one is a NumPy column copied byte for byte.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

Field = tuple[str, int, str]  # name, width in bits, what it holds


def _column_type(width: int) -> np.dtype:
    """The narrowest unsigned NumPy integer that holds `width` bits."""
    return np.dtype(next(f"u{size}" for size in (1, 2, 4, 8) if width <= 8 * size))


class RecordLayout:
    """One record layout: `fields` laid out in order from bit 0, named `name` in error messages."""

    def __init__(self, name: str, fields: tuple[Field, ...]):
        self.name = name
        self.fields = fields
        self.positions: dict[str, tuple[int, int]] = {}  # field name -> (lsb, width)
        lsb = 0
        for field, width, _ in fields:
            if width % 8 or not 0 < width <= 64:
                raise ValueError(f"{name}: field {field} is {width} bits, not 1 to 8 whole bytes")
            self.positions[field] = (lsb, width)
            lsb += width
        self.width = lsb
        self.nbytes = lsb // 8
        self.dtype = np.dtype([(field, _column_type(width)) for field, width, _ in fields])

    def pack(self, values: Mapping[str, int]) -> int:
        """The fields (missing ones 0) as one record integer."""
        word = 0
        for name, value in values.items():
            lsb, width = self.positions[name]
            value = int(value)
            if not 0 <= value < 1 << width:
                raise ValueError(f"{name}={value} does not fit {width} bits")
            word |= value << lsb
        return word

    def unpack(self, word: int) -> dict[str, int]:
        """The fields of a record integer."""
        return {name: (word >> lsb) & ((1 << width) - 1) for name, (lsb, width) in self.positions.items()}

    def to_bytes(self, word: int) -> bytes:
        """The record's bytes: byte k is bits 8k+7..8k."""
        return int(word).to_bytes(self.nbytes, "little")

    def from_bytes(self, data: bytes) -> int:
        """The record integer of one record's bytes."""
        if len(data) != self.nbytes:
            raise ValueError(f"{self.name}: a record is {self.nbytes} bytes, got {len(data)}")
        return int.from_bytes(data, "little")

    def to_array(self, data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
        """Concatenated records (as `to_bytes` lays them out) as a `dtype` array, column by column."""
        raw = np.frombuffer(bytes(data), dtype=np.uint8)
        if raw.size % self.nbytes:
            raise ValueError(f"{raw.size} bytes is not a whole number of {self.nbytes}-byte records")
        rows = raw.reshape(-1, self.nbytes)
        out = np.empty(len(rows), dtype=self.dtype)
        for name, (lsb, width) in self.positions.items():
            # the field's bytes, zero-extended to its column type and read little-endian
            column_type = self.dtype[name].newbyteorder("<")
            column = np.zeros((len(rows), column_type.itemsize), np.uint8)
            column[:, :width // 8] = rows[:, lsb // 8:(lsb + width) // 8]
            out[name] = column.view(column_type)[:, 0]
        return out

    def from_array(self, array: np.ndarray) -> bytes:
        """A structured array with this layout's field names as concatenated records: `to_array` reversed."""
        rows = np.empty((len(array), self.nbytes), np.uint8)
        for name, (lsb, width) in self.positions.items():
            values = np.asarray(array[name])
            column = values.astype("<u8")
            if (values.dtype.kind == "i" and (values < 0).any()) or \
                    (width < 64 and (column >> np.uint64(width)).any()):
                raise ValueError(f"{name}: a value does not fit {width} bits")
            rows[:, lsb // 8:(lsb + width) // 8] = column.view(np.uint8).reshape(-1, 8)[:, :width // 8]
        return rows.tobytes()

    def verilog_localparams(self, prefix: str) -> list[str]:
        """Header lines ``localparam <prefix>_<FIELD>_LSB`` and ``_WIDTH`` of every field, its description a comment."""
        lines = []
        for name, width, what in self.fields:
            lsb, _ = self.positions[name]
            upper = f"{prefix}_{name.upper()}"
            lines.append(f"localparam {upper}_LSB = {lsb};")
            lines.append(f"localparam {upper}_WIDTH = {width};  // {what}")
        return lines
