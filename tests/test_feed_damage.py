"""Damaged feeds cost the damaged bytes only: the rest is read, numbered as in the feed, and
no damage ends a replay with a traceback."""
from __future__ import annotations

import gzip
import random
import zlib

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from feeds import mutate, replay_mutated

from tickaccel.book.fast import FastBook
from tickaccel.errors import ErrorLog
from tickaccel.feed.binaryfile import read_chunks, record_offsets
from tickaccel.feed.chunk import FeedChunk
from tickaccel.feed.generator import generate
from tickaccel.schema.itch import LENGTH_BY_TYPE, MESSAGE_LENGTHS

# What a damaged record is counted as: by the reader, or by the book when its framing held.
RECORD_DAMAGE_KINDS = {"zero_length", "bad_length", "wrong_length", "unknown_type", "bytes_skipped"}
UNKNOWN_TYPES = [t for t in range(256) if LENGTH_BY_TYPE[t] == 0]
SHORTEST_RECORD = 2 + min(MESSAGE_LENGTHS.values())


@pytest.fixture(scope="module")
def feed() -> np.ndarray:
    return generate(3_000, n_symbols=10, seed=7)


@pytest.fixture(scope="module")
def small_feed() -> np.ndarray:
    return generate(600, n_symbols=6, seed=3)


def spans(data: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of every record."""
    starts = record_offsets(data).tolist()
    return list(zip(starts, starts[1:] + [len(data)]))


def replay_bbo(chunks) -> tuple[pa.Table, FastBook]:
    book = FastBook()
    return pa.concat_tables([book.process(c)["bbo"] for c in chunks]), book


def read(path, chunk_bytes: int = 1 << 16) -> tuple[pa.Table, FastBook, ErrorLog]:
    errors = ErrorLog()
    table, book = replay_bbo(read_chunks(path, chunk_bytes, errors=errors))
    return table, book, errors


def bbo_without(data: np.ndarray, index: int) -> pa.Table:
    """The BBO table of the feed without record `index`, every other record keeping its number."""
    start, end = spans(data)[index]
    return replay_bbo([FeedChunk(data[:start], 1, None, 0),
                       FeedChunk(data[end:], index + 2, None, end)])[0]


def damage(record: bytes, kind: str, value: int = 0, at: int = 0) -> bytes:
    """`record` with one kind of damage: its length prefix set to `value`, its type byte set
    to `value`, all bytes zero, byte `value` inserted at `at`, or the byte at `at` deleted."""
    if kind == "length":
        return value.to_bytes(2, "big") + record[2:]
    if kind == "type":
        return record[:2] + bytes([value]) + record[3:]
    if kind == "zeroed":
        return bytes(len(record))
    if kind == "insert":
        return record[:at] + bytes([value]) + record[at:]
    assert kind == "delete"
    return record[:at] + record[at + 1:]


def with_record_damaged(data: np.ndarray, index: int, damaged: bytes) -> bytes:
    start, end = spans(data)[index]
    return data[:start].tobytes() + damaged + data[end:].tobytes()


@pytest.mark.parametrize("kind, value, at", [
    ("length", 0, 0), ("length", 51, 0), ("length", 200, 0), ("length", 0xFFFF, 0),
    ("length", -1, 0), ("length", +1, 0), ("zeroed", 0, 0), ("type", ord("Z"), 0),
    ("insert", 0x41, 20), ("delete", 0, 20), ("insert", 0, 2), ("delete", 0, 1),
], ids=["len0", "len51", "len200", "len65535", "len-1", "len+1", "zeroed", "typeZ",
        "insert", "delete", "insert-after-prefix", "delete-in-prefix"])
def test_one_damaged_record_costs_that_record_and_keeps_every_later_seq(
        tmp_path, feed, kind, value, at):
    index = 1_500
    start, end = spans(feed)[index]
    record = feed[start:end].tobytes()
    if kind == "length" and value in (-1, 1):
        value += end - start - 2  # one off the true length
    path = tmp_path / "damaged.itch"
    path.write_bytes(with_record_damaged(feed, index, damage(record, kind, value, at)))
    table, book, errors = read(path)
    expected = bbo_without(feed, index)
    assert not expected.equals(replay_bbo([FeedChunk(feed, 1, None, 0)])[0])  # the record counts
    assert table.equals(expected)
    first = {**errors.first, **book.errors.first}
    assert [first[kind] for kind in RECORD_DAMAGE_KINDS & first.keys()] == [start]
    # The record reaches the book only when its framing held: the book counts it then.
    assert book.records == (len(spans(feed)) if kind == "type" else len(spans(feed)) - 1)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(data=st.data())
def test_damaging_one_record_changes_the_bbo_table_only_by_that_record(
        tmp_path_factory, small_feed, data):
    records = spans(small_feed)
    index = data.draw(st.integers(0, len(records) - 1), label="index")
    start, end = records[index]
    record = small_feed[start:end].tobytes()
    kinds = ["length", "type", "zeroed", "insert", "delete"]
    kind = data.draw(st.sampled_from(kinds), label="kind")
    value, at = 0, 0
    if kind == "length":
        wrong_lengths = st.integers(0, 0xFFFF).filter(lambda v: v != len(record) - 2)
        value = data.draw(wrong_lengths, label="length")
    elif kind == "type":
        value = data.draw(st.sampled_from(UNKNOWN_TYPES), label="type")
    elif kind == "insert":  # inside the record, after its first length byte
        value = data.draw(st.integers(0, 255), label="byte")
        at = data.draw(st.integers(2, len(record)), label="at")
    elif kind == "delete":
        at = data.draw(st.integers(0, len(record) - 1), label="at")
    path = tmp_path_factory.getbasetemp() / "one_damaged_record.itch"
    path.write_bytes(with_record_damaged(small_feed, index, damage(record, kind, value, at)))
    assert read(path)[0].equals(bbo_without(small_feed, index))


def records_of(chunks) -> list[tuple[int, bytes]]:
    """(seq, record bytes) of every record the chunks hold."""
    out = []
    for chunk in chunks:
        data = chunk.data.tobytes()
        bounds = record_offsets(chunk.data).tolist() + [len(data)]
        out += [(chunk.first_seq + k, data[a:b])
                for k, (a, b) in enumerate(zip(bounds, bounds[1:]))]
    return out


def read_records(path, chunk_bytes: int = 1 << 16) -> tuple[list[tuple[int, bytes]], ErrorLog]:
    errors = ErrorLog()
    return records_of(read_chunks(path, chunk_bytes, errors=errors)), errors


def whole_records(data: bytes) -> list[tuple[int, bytes]]:
    """(seq, record bytes) of the whole records at the start of `data`."""
    out, pos = [], 0
    while pos + 2 <= len(data):
        end = pos + 2 + int.from_bytes(data[pos:pos + 2], "big")
        if end > len(data):
            break
        out.append((len(out) + 1, data[pos:end]))
        pos = end
    return out


@pytest.fixture(scope="module")
def packed(small_feed) -> bytes:
    return gzip.compress(small_feed.tobytes(), compresslevel=1, mtime=0)


@pytest.mark.parametrize("byte", [-8, -1], ids=["crc", "length"])
def test_gzip_trailer_mismatch_keeps_every_message_and_counts_one_error(
        tmp_path, small_feed, packed, byte):
    bad = bytearray(packed)
    bad[byte] ^= 0x01
    path = tmp_path / "trailer.itch.gz"
    path.write_bytes(bytes(bad))
    records, errors = read_records(path)
    assert records == whole_records(small_feed.tobytes())
    assert errors.counts == {"gzip_error": 1}
    assert len(packed) - 8 <= errors.first["gzip_error"] < len(packed)


def test_junk_after_the_gzip_stream_is_counted_and_zero_padding_allowed(
        tmp_path, small_feed, packed):
    expected = whole_records(small_feed.tobytes())
    for tail, counts in ((b"\0" * 100, {}), (b"junk after the stream", {"gzip_error": 1})):
        path = tmp_path / "tail.itch.gz"
        path.write_bytes(packed + tail)
        records, errors = read_records(path)
        assert records == expected and errors.counts == counts
    assert errors.first["gzip_error"] == len(packed)


def test_gzip_cut_short_keeps_everything_decoded(tmp_path, packed):
    cut = packed[: len(packed) // 2]
    path = tmp_path / "cut.itch.gz"
    path.write_bytes(cut)
    decoded = zlib.decompressobj(31).decompress(cut)
    records, errors = read_records(path)
    assert records == whole_records(decoded) and len(records) > 100
    assert errors.counts == {"gzip_error": 1, "truncated_message": 1}
    assert errors.first["gzip_error"] == len(cut)


@pytest.mark.parametrize("chunk_bytes", [100, 1 << 16])
def test_a_byte_flipped_inside_gzip_keeps_every_message_decoded_before_it(
        tmp_path, packed, chunk_bytes):
    flip = len(packed) // 3
    bad = bytearray(packed)
    bad[flip] ^= 0x10
    path = tmp_path / "flip.itch.gz"
    path.write_bytes(bytes(bad))
    before = whole_records(zlib.decompressobj(31).decompress(packed[:flip]))
    records, errors = read_records(path, chunk_bytes)
    assert records[:len(before)] == before and len(before) > 100
    assert errors.counts["gzip_error"] == 1 and errors.first["gzip_error"] >= flip


def test_a_damaged_gzip_member_costs_that_member_only(tmp_path, small_feed):
    data = small_feed.tobytes()
    bounds = record_offsets(small_feed).tolist()
    first, second = data[:bounds[300]], data[bounds[300]:]
    damaged = bytearray(gzip.compress(first, mtime=0))
    damaged[len(damaged) // 2] ^= 0x10
    path = tmp_path / "members.itch.gz"
    path.write_bytes(bytes(damaged) + gzip.compress(second, mtime=0))
    records, errors = read_records(path)
    tail = [r for _, r in whole_records(second)]
    assert [r for _, r in records[-len(tail):]] == tail
    assert errors.counts["gzip_error"] == 1


# ---- mutation fuzzing through the command line ----

def test_mutated_feeds_replay_with_bounded_loss_and_never_a_traceback(
        tmp_path, small_feed, capsys):
    fuzz_replays(tmp_path, small_feed, capsys, seed=20240601, trials=240)


@pytest.mark.slow
def test_many_more_mutated_feeds_replay_with_bounded_loss_and_never_a_traceback(
        tmp_path, small_feed, capsys):
    fuzz_replays(tmp_path, small_feed, capsys, seed=20261203, trials=3000)


def fuzz_replays(tmp_path, small_feed, capsys, seed: int, trials: int) -> None:
    """`trials` mutated copies of `small_feed`, plain or gzip, through `tickaccel replay`:
    exit 0 with a summary and bounded loss, or exit 2 with one line; never a traceback."""
    rng = random.Random(seed)
    plain = small_feed.tobytes()
    n_messages = len(spans(small_feed))
    seen_codes = set()
    for trial in range(trials):
        gzipped = trial % 3 == 2  # then the compressed bytes are mutated
        mutated, places, removed = mutate(
            gzip.compress(plain, compresslevel=1, mtime=0) if gzipped else plain, rng)
        code, summary = replay_mutated(tmp_path / f"fuzz{trial % 2}.itch", mutated, capsys, trial)
        seen_codes.add(code)
        if summary is None:
            continue
        assert summary["messages"] <= summary["records"] and "failed" not in summary
        if not gzipped:  # a gzip stream cannot be decoded past its damage: no bound there
            # Each damaged place costs the records it touches and a neighbour, a few at most.
            lost = n_messages - summary["messages"] - removed // SHORTEST_RECORD
            assert lost <= 3 * places, (trial, lost, summary["errors"])
    assert seen_codes == {0, 2}
