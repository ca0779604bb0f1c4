"""BinaryFILE: chunked, bounded-memory reading of plain and gzip files, and the writer."""
from __future__ import annotations

import gzip
import random
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tickaccel.schema import itch
from tickaccel.feed.binaryfile import (
    frame_messages,
    read_chunks,
    record_offsets,
    write_binaryfile,
)
from tickaccel.errors import ErrorLog

MESSAGES = [itch.encode_message(itch.make("A", order_ref=i, side="B", shares=100 + i, stock="MSFT",
                                          price=4_000_000 + i)) for i in range(20)]
MESSAGES += [itch.encode_message(itch.make("D", order_ref=i)) for i in range(20)]
MESSAGES += [b"", b"\x7fnot-a-type", bytes(300)]  # content faults are the books' business, not ours


def _read(path, chunk_bytes):
    errors = ErrorLog()
    chunks = list(read_chunks(path, chunk_bytes, errors=errors))
    return chunks, errors


def _records(chunks):
    out = []
    for chunk in chunks:
        data = chunk.data.tobytes()
        for k, offset in enumerate(record_offsets(chunk.data)):
            length = int.from_bytes(data[offset:offset + 2], "big")
            out.append((chunk.first_seq + k, chunk.base_offset + int(offset), data[offset + 2:offset + 2 + length]))
    return out


@pytest.fixture(scope="module")
def plain_and_gzip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bf")
    plain, packed = folder / "day.itch", folder / "day.itch.gz"
    write_binaryfile(plain, MESSAGES)
    write_binaryfile(packed, MESSAGES)
    return plain, packed


def test_writer_prefixes_each_message_and_gzips_by_suffix(plain_and_gzip):
    plain, packed = plain_and_gzip
    assert plain.read_bytes() == frame_messages(MESSAGES)
    assert packed.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()


@settings(max_examples=60, deadline=None)
@given(chunk_bytes=st.integers(1, 2000))
def test_chunked_reading_equals_one_shot_for_any_chunk_size(plain_and_gzip, chunk_bytes):
    plain, packed = plain_and_gzip
    whole = _records(_read(plain, 1 << 20)[0])
    assert [m for _, _, m in whole] == MESSAGES
    assert [seq for seq, _, _ in whole] == list(range(1, len(MESSAGES) + 1))
    for path in (plain, packed):
        chunks, errors = _read(path, chunk_bytes)
        assert _records(chunks) == whole
        assert errors.total() == 0
        assert all(len(c.data) and c.seqs is None for c in chunks)


def _damaged(body: bytes, rng: random.Random) -> bytes:
    """`body` with a few random flips, insertions, deletions and overwritten length prefixes."""
    buf = bytearray(body)
    for _ in range(rng.randint(1, 5)):
        kind, at = rng.randrange(4), rng.randrange(len(buf))
        if kind == 0:
            buf[at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
        elif kind == 2:
            del buf[at:at + rng.randint(1, 40)]
        else:
            buf[at:at + 2] = rng.randrange(1 << 16).to_bytes(2, "big")
    return bytes(buf)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(seed=st.integers(0, 1 << 32), chunk_bytes=st.integers(1, 3000), gzipped=st.booleans())
def test_a_damaged_file_reads_the_same_in_any_chunk_size(
        tmp_path_factory, seed, chunk_bytes, gzipped):
    body = frame_messages(MESSAGES[:40] * 8 + MESSAGES)
    path = tmp_path_factory.getbasetemp() / ("damaged.itch.gz" if gzipped else "damaged.itch")
    write_binaryfile(path, _damaged(body, random.Random(seed)), gzip=gzipped)
    whole_chunks, whole_errors = _read(path, 1 << 20)
    chunks, errors = _read(path, chunk_bytes)
    assert _records(chunks) == _records(whole_chunks)
    assert errors == whole_errors
    assert all(len(c.data) and c.seqs is None for c in chunks)


def test_truncated_final_record_is_counted_at_its_offset_and_the_rest_delivered(tmp_path):
    body = frame_messages(MESSAGES)
    for name, opener in (("cut.itch", open), ("cut.itch.gz", gzip.open)):
        path = tmp_path / name
        with opener(path, "wb") as f:
            f.write(body + b"\x00\x24\x41\x00")
        for chunk_bytes in (7, 64, 1 << 20):
            chunks, errors = _read(path, chunk_bytes)
            assert [m for _, _, m in _records(chunks)] == MESSAGES
            assert errors.to_dict() == {"truncated_message": {"count": 1, "first_position": len(body)}}


def test_buffer_input_is_written_as_it_is(tmp_path):
    framed = np.frombuffer(frame_messages(MESSAGES), np.uint8)
    write_binaryfile(tmp_path / "a.itch", framed)
    write_binaryfile(tmp_path / "b.itch", bytes(framed))
    assert (tmp_path / "a.itch").read_bytes() == (tmp_path / "b.itch").read_bytes() == framed.tobytes()


def test_gzip_output_is_reproducible(tmp_path):
    write_binaryfile(tmp_path / "a.gz", MESSAGES)
    write_binaryfile(tmp_path / "b.gz", MESSAGES)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def test_writer_handles_a_million_messages_quickly(tmp_path):
    messages = [itch.encode_message(itch.make("E", order_ref=i, executed_shares=100, match_number=i))
                for i in range(1000)] * 1000
    started = time.perf_counter()
    written = write_binaryfile(tmp_path / "big.itch", messages)
    assert time.perf_counter() - started < 3.0
    assert written == 33 * 1_000_000
