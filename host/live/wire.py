"""The published BBO record and its frame: the bytes subscribers receive (documented in docs/live.md).

A frame is `FRAME_HEADER` followed by `count` records of `BBO_RECORD`, all
little-endian. The same records fill the Parquet spools, so this module also
turns them into the BBO table (`records_table`) and back (`wire_records`), and
holds the Numba pass that writes them straight from the book's columns
(`fill_wire_records`).
"""
from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from tickaccel.schema import itch
from tickaccel.schema.tables import BBO_SCHEMA

MAGIC = b"TKBB"
VERSION = 1
KIND_BBO, KIND_END = 0, 1
FLAG_STALE = 1
# Every ZeroMQ message: this header, then `count` BBO records, all little-endian.
FRAME_HEADER = struct.Struct("<4sHHQII")  # magic, version, kind, batch, count, flags
BBO_RECORD = np.dtype({
    "names": ["seq", "timestamp", "bid_price", "ask_price", "bid_size", "ask_size",
              "stock_locate", "flags", "symbol"],
    "formats": ["<u8", "<u8", "<u4", "<u4", "<u8", "<u8", "<u2", "<u2", "S8"],
    "offsets": [0, 8, 16, 20, 24, 32, 40, 42, 48],
    "itemsize": 56,
})
_AT = {name: BBO_RECORD.fields[name][1] for name in BBO_RECORD.names}
_SEQ_AT, _TS_AT, _BPX_AT, _APX_AT, _BSZ_AT, _ASZ_AT, _LOC_AT, _FLAGS_AT, _SYMBOL_AT = (
    _AT[name] for name in BBO_RECORD.names)


def pack_frame_header(frame: np.ndarray, kind: int, batch: int, count: int, stale: bool) -> None:
    """Write the header of a frame of `count` records at the start of the send buffer `frame`."""
    FRAME_HEADER.pack_into(frame, 0, MAGIC, VERSION, kind, batch, count,
                           FLAG_STALE if stale else 0)


def decode_frame(frame: bytes) -> tuple[dict, np.ndarray]:
    """A published ZeroMQ message as (header fields, BBO record array)."""
    magic, version, kind, batch, count, flags = FRAME_HEADER.unpack_from(frame)
    if magic != MAGIC or version != VERSION:
        raise ValueError(f"not a tickaccel BBO frame: {bytes(frame[:6])!r}")
    records = np.frombuffer(frame, BBO_RECORD, count=count, offset=FRAME_HEADER.size)
    return {"kind": kind, "batch": batch, "count": count, "flags": flags}, records


def record_bytes(records: np.ndarray) -> np.ndarray:
    """Contiguous records as a (rows, 56) byte array: copying those is one memcpy, while
    copying a structured array with padding goes field by field."""
    return records.view(np.uint8).reshape(len(records), BBO_RECORD.itemsize)


def wire_records(table: pa.Table, stale: bool) -> np.ndarray:
    """The BBO table (`BBO_SCHEMA`) as published records, all flagged STALE when `stale`."""
    n = table.num_rows
    rec = np.zeros(n, BBO_RECORD)
    if n == 0:
        return rec
    for name in ("seq", "timestamp", "bid_price", "ask_price", "bid_size", "ask_size",
                 "stock_locate"):
        rec[name] = table.column(name).to_numpy()
    symbols = pc.utf8_rpad(table.column("symbol"), 8, " ").cast(pa.binary()).cast(pa.binary(8))
    symbols = symbols.combine_chunks()
    rec["symbol"] = np.frombuffer(symbols.buffers()[1], "S8", count=n, offset=symbols.offset * 8)
    if stale:
        rec["flags"] = FLAG_STALE
    return rec


def records_table(records: np.ndarray) -> pa.Table:
    """Published records back as the BBO table (`BBO_SCHEMA`); the flags are not in it."""
    packed = np.ascontiguousarray(records["symbol"]).view("<u8")
    distinct, which = np.unique(packed, return_inverse=True)
    names = pa.array([int(v).to_bytes(8, "little").decode("latin-1").rstrip(" ")
                      for v in distinct.tolist()], pa.string())
    columns = {name: np.ascontiguousarray(records[name]) for name in BBO_SCHEMA.names
               if name != "symbol"}
    columns["symbol"] = names.take(pa.array(which.astype(np.int32)))
    return pa.Table.from_arrays([pa.array(columns[f.name], f.type) for f in BBO_SCHEMA],
                                schema=BBO_SCHEMA)


# ---- records straight from the book's columns ----

_R_TYPE = ord("R")
_R_LENGTH = int(itch.LENGTH_BY_TYPE[_R_TYPE])
_R_LOCATE = itch.field_offsets("R")["stock_locate"][0]
_R_STOCK = itch.field_offsets("R")["stock"][0]


@njit(cache=True, inline="always")
def _put_le(out, row, at, value, nbytes):
    for k in range(nbytes):
        out[row, at + k] = np.uint8((np.uint64(value) >> np.uint64(8 * k)) & np.uint64(0xFF))


@njit(cache=True, inline="always")
def _put_record(out, r, seq, ts, loc, bpx, apx, bsz, asz, names, stale):
    _put_le(out, r, _SEQ_AT, seq[r], 8)
    _put_le(out, r, _TS_AT, ts[r], 8)
    _put_le(out, r, _BPX_AT, bpx[r], 4)
    _put_le(out, r, _APX_AT, apx[r], 4)
    _put_le(out, r, _BSZ_AT, bsz[r], 8)
    _put_le(out, r, _ASZ_AT, asz[r], 8)
    _put_le(out, r, _LOC_AT, loc[r], 2)
    _put_le(out, r, _FLAGS_AT, FLAG_STALE if stale else 0, 2)
    for k in range(8):
        out[r, _SYMBOL_AT + k] = names[loc[r], k]


@njit(cache=True)
def fill_wire_records(data, seqs, names, seq, ts, loc, bpx, apx, bsz, asz, stale, out):
    """Write the book's BBO rows of one chunk as published records.

    Walks the chunk's messages in order beside the rows, taking each stock
    directory (R) message's name into `names` as it passes, so every row
    carries its symbol as named when the row was made, as a replay's table does.

    data, seqs: the chunk's message blocks and the sequence number of each message.
    names: (N_LOCATES, 8) symbol bytes per stock locate, space padded; updated in place
        and carried from one chunk to the next.
    seq, ts, loc, bpx, apx, bsz, asz: the book's BBO columns (sequence, timestamp, stock
        locate, bid/ask price, bid/ask size), one element per row.
    stale: set the STALE flag on every row.
    out: (rows or more, 56) bytes, the records as `record_bytes` views them.
    """
    n = seq.shape[0]
    r = 0
    pos = 0
    end = data.shape[0]
    for index in range(seqs.shape[0]):
        if pos + 2 > end:
            break
        length = (np.int64(data[pos]) << 8) | np.int64(data[pos + 1])
        p = pos + 2
        if length == _R_LENGTH and p + length <= end and data[p] == _R_TYPE:
            locate = (np.int64(data[p + _R_LOCATE]) << 8) | np.int64(data[p + _R_LOCATE + 1])
            for k in range(8):
                names[locate, k] = data[p + _R_STOCK + k]
        while r < n and seq[r] <= seqs[index]:
            _put_record(out, r, seq, ts, loc, bpx, apx, bsz, asz, names, stale)
            r += 1
        pos = p + length
    while r < n:
        _put_record(out, r, seq, ts, loc, bpx, apx, bsz, asz, names, stale)
        r += 1
