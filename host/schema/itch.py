"""NASDAQ TotalView-ITCH 5.0: the message table, per-message codec and batch decode.

`MESSAGES` is the one definition of every message type; the struct formats,
the NumPy record dtypes, the length lookup used by the fast book and the
Verilog tables are all derived from it.

Field kinds: ``c`` one ASCII byte, ``aN`` space-padded ASCII of N bytes,
``u2``/``u4``/``u8`` big-endian unsigned integers, ``ts`` the 6-byte
timestamp (ns after midnight), ``p4`` Price(4) in 1/10 000 dollar and ``p8``
Price(8) in 1/100 000 000 dollar.
"""
from __future__ import annotations

import struct
from collections import namedtuple
from dataclasses import dataclass

import numpy as np

HEADER_FIELDS: tuple[tuple[str, str], ...] = (
    ("stock_locate", "u2"),
    ("tracking_number", "u2"),
    ("timestamp", "ts"),
)

# type -> (name, fields after the 11-byte header)
MESSAGES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "S": ("system_event", (("event_code", "c"),)),
    "R": ("stock_directory", (
        ("stock", "a8"), ("market_category", "c"), ("financial_status_indicator", "c"),
        ("round_lot_size", "u4"), ("round_lots_only", "c"), ("issue_classification", "c"),
        ("issue_subtype", "a2"), ("authenticity", "c"), ("short_sale_threshold_indicator", "c"),
        ("ipo_flag", "c"), ("luld_reference_price_tier", "c"), ("etp_flag", "c"),
        ("etp_leverage_factor", "u4"), ("inverse_indicator", "c"),
    )),
    "H": ("stock_trading_action", (
        ("stock", "a8"), ("trading_state", "c"), ("reserved", "c"), ("reason", "a4"),
    )),
    "Y": ("reg_sho_restriction", (("stock", "a8"), ("reg_sho_action", "c"))),
    "L": ("market_participant_position", (
        ("mpid", "a4"), ("stock", "a8"), ("primary_market_maker", "c"),
        ("market_maker_mode", "c"), ("market_participant_state", "c"),
    )),
    "V": ("mwcb_decline_level", (("level1", "p8"), ("level2", "p8"), ("level3", "p8"))),
    "W": ("mwcb_status", (("breached_level", "c"),)),
    "K": ("ipo_quoting_period_update", (
        ("stock", "a8"), ("ipo_quotation_release_time", "u4"),
        ("ipo_quotation_release_qualifier", "c"), ("ipo_price", "p4"),
    )),
    "J": ("luld_auction_collar", (
        ("stock", "a8"), ("auction_collar_reference_price", "p4"),
        ("upper_auction_collar_price", "p4"), ("lower_auction_collar_price", "p4"),
        ("auction_collar_extension", "u4"),
    )),
    "h": ("operational_halt", (
        ("stock", "a8"), ("market_code", "c"), ("operational_halt_action", "c"),
    )),
    "A": ("add_order", (
        ("order_ref", "u8"), ("side", "c"), ("shares", "u4"), ("stock", "a8"), ("price", "p4"),
    )),
    "F": ("add_order_mpid", (
        ("order_ref", "u8"), ("side", "c"), ("shares", "u4"), ("stock", "a8"), ("price", "p4"),
        ("attribution", "a4"),
    )),
    "E": ("order_executed", (
        ("order_ref", "u8"), ("executed_shares", "u4"), ("match_number", "u8"),
    )),
    "C": ("order_executed_with_price", (
        ("order_ref", "u8"), ("executed_shares", "u4"), ("match_number", "u8"),
        ("printable", "c"), ("execution_price", "p4"),
    )),
    "X": ("order_cancel", (("order_ref", "u8"), ("cancelled_shares", "u4"))),
    "D": ("order_delete", (("order_ref", "u8"),)),
    "U": ("order_replace", (
        ("original_order_ref", "u8"), ("new_order_ref", "u8"), ("shares", "u4"), ("price", "p4"),
    )),
    "P": ("trade", (
        ("order_ref", "u8"), ("side", "c"), ("shares", "u4"), ("stock", "a8"), ("price", "p4"),
        ("match_number", "u8"),
    )),
    "Q": ("cross_trade", (
        ("shares", "u8"), ("stock", "a8"), ("cross_price", "p4"), ("match_number", "u8"),
        ("cross_type", "c"),
    )),
    "B": ("broken_trade", (("match_number", "u8"),)),
    "I": ("noii", (
        ("paired_shares", "u8"), ("imbalance_shares", "u8"), ("imbalance_direction", "c"),
        ("stock", "a8"), ("far_price", "p4"), ("near_price", "p4"),
        ("current_reference_price", "p4"), ("cross_type", "c"),
        ("price_variation_indicator", "c"),
    )),
    "N": ("rpii", (("stock", "a8"), ("interest_flag", "c"))),
    "O": ("direct_listing_capital_raise", (
        ("stock", "a8"), ("open_eligibility_status", "c"), ("minimum_allowable_price", "p4"),
        ("maximum_allowable_price", "p4"), ("near_execution_price", "p4"),
        ("near_execution_time", "u8"), ("lower_price_range_collar", "p4"),
        ("upper_price_range_collar", "p4"),
    )),
}

HEADER_LENGTH = 11
MAX_MESSAGE_LENGTH = 50

# Type bytes of the messages the books act on, named as in `MESSAGES`, for
# kernels that switch on the raw byte.
TYPE_STOCK_DIRECTORY = ord("R")
TYPE_ADD_ORDER = ord("A")
TYPE_ADD_ORDER_MPID = ord("F")
TYPE_ORDER_EXECUTED = ord("E")
TYPE_ORDER_EXECUTED_WITH_PRICE = ord("C")
TYPE_ORDER_CANCEL = ord("X")
TYPE_ORDER_DELETE = ord("D")
TYPE_ORDER_REPLACE = ord("U")
TYPE_TRADE = ord("P")
TYPE_CROSS_TRADE = ord("Q")
TYPE_BROKEN_TRADE = ord("B")
assert all(MESSAGES[chr(code)][0] == name[len("TYPE_"):].lower()
           for name, code in list(globals().items()) if name.startswith("TYPE_"))

# Buy/sell indicator bytes; a cross trade has no side, and the trades table gives it a space.
SIDE_BUY = ord("B")
SIDE_SELL = ord("S")
SIDE_NONE = ord(" ")

_STRUCT_CODE = {"c": "c", "u2": "H", "u4": "I", "u8": "Q", "p4": "I", "p8": "Q", "ts": "HI"}


def _field_size(kind: str) -> int:
    if kind[0] == "a":
        return int(kind[1:])
    return {"c": 1, "u2": 2, "u4": 4, "u8": 8, "p4": 4, "p8": 8, "ts": 6}[kind]


def _all_fields(mtype: str) -> tuple[tuple[str, str], ...]:
    return HEADER_FIELDS + MESSAGES[mtype][1]


def field_offsets(mtype: str) -> dict[str, tuple[int, str]]:
    """Byte offset (from the type byte) and kind of every field of a message type."""
    offsets, pos = {}, 1
    for name, kind in _all_fields(mtype):
        offsets[name] = (pos, kind)
        pos += _field_size(kind)
    return offsets


MESSAGE_LENGTHS: dict[str, int] = {
    t: 1 + sum(_field_size(k) for _, k in _all_fields(t)) for t in MESSAGES
}

# Length of each message type indexed by its type byte; 0 marks an unknown type.
LENGTH_BY_TYPE = np.zeros(256, dtype=np.int64)
for _t, _n in MESSAGE_LENGTHS.items():
    LENGTH_BY_TYPE[ord(_t)] = _n

# One named tuple class per type, e.g. ``AddOrder(stock_locate=..., ..., price=...)``;
# alpha fields are str with the padding removed, ``c`` fields one-character str.
MESSAGE_CLASSES = {
    t: namedtuple("".join(p.title() for p in name.split("_")),
                  [f for f, _ in _all_fields(t)])
    for t, (name, _) in MESSAGES.items()
}
for _t, _cls in MESSAGE_CLASSES.items():
    _cls.type = _t  # type: ignore[attr-defined]
    _cls.name = MESSAGES[_t][0]  # type: ignore[attr-defined]


def _struct_format(mtype: str) -> str:
    parts = [">c"]
    for _, kind in _all_fields(mtype):
        parts.append(f"{kind[1:]}s" if kind[0] == "a" else _STRUCT_CODE[kind])
    return "".join(parts)


_STRUCTS = {t: struct.Struct(_struct_format(t)) for t in MESSAGES}
for _t, _s in _STRUCTS.items():
    assert _s.size == MESSAGE_LENGTHS[_t], _t


class MessageError(ValueError):
    """A byte string that is not a well-formed ITCH 5.0 message."""


def decode_message(data: bytes) -> tuple:
    """Decode one message (starting at its type byte) into its named tuple."""
    if not data:
        raise MessageError("empty message")
    mtype = chr(data[0])
    if mtype not in MESSAGES:
        raise MessageError(f"unknown message type {data[0]:#04x}")
    expected = MESSAGE_LENGTHS[mtype]
    if len(data) != expected:
        raise MessageError(f"type {mtype!r} is {expected} bytes, got {len(data)}")
    raw = _STRUCTS[mtype].unpack(data)
    values, i = [], 1
    for _, kind in _all_fields(mtype):
        if kind == "ts":
            values.append((raw[i] << 32) | raw[i + 1])
            i += 2
            continue
        v = raw[i]
        if kind == "c":
            v = v.decode("latin-1")
        elif kind[0] == "a":
            v = v.decode("latin-1").rstrip(" ")
        values.append(v)
        i += 1
    return MESSAGE_CLASSES[mtype](*values)


def encode_message(msg: tuple) -> bytes:
    """Encode a message named tuple (as made by `decode_message` or `make`) to its wire bytes."""
    mtype = msg.type
    args: list = [mtype.encode()]
    for (name, kind), v in zip(_all_fields(mtype), msg):
        if kind == "ts":
            args += [(v >> 32) & 0xFFFF, v & 0xFFFFFFFF]
        elif kind == "c":
            args.append(v.encode("latin-1") if isinstance(v, str) else bytes(v))
        elif kind[0] == "a":
            n = int(kind[1:])
            b = v.encode("latin-1") if isinstance(v, str) else bytes(v)
            if len(b) > n:
                raise MessageError(f"{name} longer than {n} bytes: {v!r}")
            args.append(b.ljust(n, b" "))
        else:
            args.append(v)
    try:
        return _STRUCTS[mtype].pack(*args)
    except struct.error as exc:
        raise MessageError(f"cannot encode {mtype!r}: {exc}") from None


def make(mtype: str, **fields) -> tuple:
    """Build a message named tuple; fields left out are 0, a space or an empty string."""
    values = []
    for name, kind in _all_fields(mtype):
        if name in fields:
            values.append(fields.pop(name))
        else:
            values.append(" " if kind == "c" else "" if kind[0] == "a" else 0)
    if fields:
        raise TypeError(f"type {mtype!r} has no fields {sorted(fields)}")
    return MESSAGE_CLASSES[mtype](*values)


# ---- batch decode: one structured array per type, straight from the bytes ----

def _wire_dtype(mtype: str) -> np.dtype:
    """The big-endian view of one message's bytes (timestamp split into its two parts)."""
    names, formats, offsets = [], [], []
    for name, (off, kind) in field_offsets(mtype).items():
        if kind == "ts":
            names += ["_ts_hi", "_ts_lo"]
            formats += [">u2", ">u4"]
            offsets += [off, off + 2]
            continue
        names.append(name)
        offsets.append(off)
        formats.append({"c": "S1", "u2": ">u2", "u4": ">u4", "u8": ">u8", "p4": ">u4",
                        "p8": ">u8"}.get(kind, f"S{kind[1:]}"))
    return np.dtype({"names": names, "formats": formats, "offsets": offsets,
                     "itemsize": MESSAGE_LENGTHS[mtype]})


def record_dtype(mtype: str) -> np.dtype:
    """Native-endian record dtype of a decoded message type; `seq` is the feed position."""
    fields = [("seq", "u8")]
    for name, kind in _all_fields(mtype):
        fields.append((name, {"c": "S1", "u2": "u2", "u4": "u4", "u8": "u8", "p4": "u4",
                              "p8": "u8", "ts": "u8"}.get(kind, f"S{kind[1:]}")))
    return np.dtype(fields)


_WIRE_DTYPES = {t: _wire_dtype(t) for t in MESSAGES}
RECORD_DTYPES = {t: record_dtype(t) for t in MESSAGES}


@dataclass
class Framed:
    """Offsets of well-formed messages inside a buffer, with their feed sequence numbers."""

    buffer: np.ndarray  # uint8
    offsets: np.ndarray  # int64, position of each message's type byte
    seqs: np.ndarray  # uint64


def decode_batch(framed: Framed, types: str | None = None) -> dict[str, np.ndarray]:
    """Decode framed messages into one native structured array per message type.

    Alpha fields stay space padded (``b'AAPL    '``); this is the columnar path
    for analysis, `decode_message` the one for people.
    """
    buf = np.ascontiguousarray(framed.buffer, dtype=np.uint8)
    offsets = np.asarray(framed.offsets, dtype=np.int64)
    kinds = buf[offsets] if len(offsets) else np.empty(0, np.uint8)
    out: dict[str, np.ndarray] = {}
    for mtype in types or "".join(MESSAGES):
        sel = np.flatnonzero(kinds == ord(mtype))
        if not len(sel):
            continue
        n = MESSAGE_LENGTHS[mtype]
        rows = buf[offsets[sel, None] + np.arange(n)]  # (count, n) copy of each message
        wire = rows.view(_WIRE_DTYPES[mtype]).reshape(-1)
        rec = np.empty(len(sel), dtype=RECORD_DTYPES[mtype])
        rec["seq"] = framed.seqs[sel]
        for name in rec.dtype.names[1:]:
            if name == "timestamp":
                rec[name] = (wire["_ts_hi"].astype(np.uint64) << np.uint64(32)) | wire["_ts_lo"]
            else:
                rec[name] = wire[name]
        out[mtype] = rec
    return out
