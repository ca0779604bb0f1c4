"""ITCH 5.0 codec: every message type round-trips, and batch decode agrees with per-message decode."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tickaccel.schema import itch

_ALPHA = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.", max_size=8)


def _field(kind: str):
    if kind == "c":
        return st.sampled_from("ABCDEHNOPQSTWXY0123 ")
    if kind[0] == "a":
        return _ALPHA.map(lambda s, n=int(kind[1:]): s[:n])
    bits = {"u2": 16, "u4": 32, "u8": 64, "p4": 32, "p8": 64, "ts": 48}[kind]
    return st.integers(0, (1 << bits) - 1)


def _message(mtype: str):
    fields = {name: _field(kind) for name, (_, kind) in itch.field_offsets(mtype).items()}
    return st.fixed_dictionaries(fields).map(lambda values: itch.make(mtype, **values))


ANY_MESSAGE = st.one_of([_message(t) for t in itch.MESSAGES])


def test_table_matches_the_specification_lengths():
    expected = {"S": 12, "R": 39, "H": 25, "Y": 20, "L": 26, "V": 35, "W": 12, "K": 28, "J": 35, "h": 21,
                "A": 36, "F": 40, "E": 31, "C": 36, "X": 23, "D": 19, "U": 35, "P": 44, "Q": 40, "B": 19,
                "I": 50, "N": 20, "O": 48}
    assert itch.MESSAGE_LENGTHS == expected


@settings(max_examples=300, deadline=None)
@given(ANY_MESSAGE)
def test_every_type_round_trips_through_encode_and_decode(message):
    wire = itch.encode_message(message)
    assert len(wire) == itch.MESSAGE_LENGTHS[message.type]
    assert wire[0] == ord(message.type)
    assert itch.decode_message(wire) == message


@settings(max_examples=50, deadline=None)
@given(st.lists(ANY_MESSAGE, min_size=1, max_size=40))
def test_decode_batch_equals_per_message_decode(messages):
    wires = [itch.encode_message(m) for m in messages]
    offsets = np.cumsum([0] + [len(w) for w in wires[:-1]]).astype(np.int64)
    framed = itch.Framed(np.frombuffer(b"".join(wires), np.uint8), offsets,
                         np.arange(1, len(wires) + 1, dtype=np.uint64))
    batch = itch.decode_batch(framed)
    seen = {t: 0 for t in batch}
    for seq, message in enumerate(messages, start=1):
        row = batch[message.type][seen[message.type]]
        seen[message.type] += 1
        assert row["seq"] == seq
        for (name, (_, kind)), value in zip(itch.field_offsets(message.type).items(), message):
            got = row[name]
            if kind == "c":
                assert got.decode("latin-1") == value
            elif kind[0] == "a":
                assert got.decode("latin-1").rstrip(" ") == value
            else:
                assert int(got) == value
    assert sum(len(rows) for rows in batch.values()) == len(messages)


def test_decode_rejects_unknown_type_and_wrong_length():
    wire = itch.encode_message(itch.make("D", order_ref=7))
    for bad in (b"", b"z" + wire[1:], wire[:-1], wire + b"\0"):
        try:
            itch.decode_message(bad)
        except itch.MessageError:
            continue
        raise AssertionError(f"accepted {bad!r}")
