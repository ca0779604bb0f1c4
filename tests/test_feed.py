"""open_feed: one entry point for every format, told apart by content, with clear refusals."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from tickaccel.feed.binaryfile import record_offsets
from tickaccel.feed.capture import udp_frame, write_pcap
from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.feed.source import feed_format, open_feed
from tickaccel.feed.generator import generate
from tickaccel.feed.moldudp64 import build_packets, end_of_session


@pytest.fixture(scope="module")
def framed():
    return generate(5_000, n_symbols=30, seed=9)


@pytest.fixture(scope="module")
def files(tmp_path_factory, framed):
    folder = tmp_path_factory.mktemp("feeds")
    frames = [udp_frame(p) for p in build_packets(framed, "FEED")] + [udp_frame(end_of_session("FEED", 5001))]
    paths = {
        "binaryfile": folder / "day.bin",  # names say nothing: detection is by content
        "binaryfile.gz": folder / "day.dat",
        "pcap": folder / "day.cap",
        "pcapng": folder / "day.raw",
    }
    paths["binaryfile"].write_bytes(framed.tobytes())
    paths["binaryfile.gz"].write_bytes(gzip.compress(framed.tobytes()))
    write_pcap(paths["pcap"], frames)
    write_pcap(paths["pcapng"], frames, pcapng=True)
    return paths


@pytest.mark.parametrize("kind", ["binaryfile", "binaryfile.gz", "pcap", "pcapng"])
def test_every_format_is_detected_and_gives_the_same_messages(files, framed, kind):
    assert feed_format(files[kind]) == kind
    errors = ErrorLog()
    chunks = list(open_feed(files[kind], errors=errors, chunk_bytes=10_000))
    assert errors.total() == 0 and len(chunks) > 1
    assert np.array_equal(np.concatenate([c.data for c in chunks]), framed)
    if kind.startswith("binaryfile"):
        assert all(c.seqs is None and c.base_offset >= 0 for c in chunks)
    else:
        assert np.concatenate([c.seqs for c in chunks]).tolist() == list(range(1, 5001))


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    (b"", "empty file"),
    (gzip.compress(b"", mtime=0), "empty file"),
    (b"Date,Symbol,Price\n2024-01-02,AAPL,185.64\n" * 50, "not an ITCH feed"),
    (bytes(range(256)) * 40, "not an ITCH feed"),
    (gzip.compress(b"hello world\n" * 100, mtime=0), "not an ITCH feed"),
    (b"\x1f\x8b\x08garbage", "unreadable gzip"),
], ids=["missing", "empty", "empty-gzip", "csv", "binary", "text-gzip", "bad-gzip"])  # ids that
# every pytest-xdist worker collects alike
def test_unusable_files_raise_one_clear_line(tmp_path, content, message):
    path = tmp_path / "input.itch"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(TickaccelError, match=message) as raised:
        list(open_feed(path, errors=ErrorLog()))
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("damage", ["type", "length", "zeroed"])
def test_a_bad_first_record_does_not_reject_a_good_feed(tmp_path, framed, damage):
    data = bytearray(framed.tobytes())
    first = 2 + int.from_bytes(data[:2], "big")
    if damage == "type":
        data[2] = ord("Z")
    elif damage == "length":
        data[:2] = (0xFFFF).to_bytes(2, "big")
    else:
        data[:first] = bytes(first)
    path = tmp_path / "bad_first.itch"
    path.write_bytes(bytes(data))
    assert feed_format(path) == "binaryfile"
    chunks = list(open_feed(path, errors=ErrorLog()))
    # A record with a bad type but a fitting length goes to the books, which count it.
    kept = bytes(data) if damage == "type" else framed[first:].tobytes()
    assert np.concatenate([c.data for c in chunks]).tobytes() == kept
    assert chunks[-1].first_seq + len(record_offsets(chunks[-1].data)) - 1 == 5000


@pytest.mark.parametrize("damage", ["trailer", "cut", "junk"])
def test_a_damaged_gzip_is_judged_by_what_decompresses(tmp_path, framed, damage):
    packed = bytearray(gzip.compress(framed.tobytes(), mtime=0))
    if damage == "trailer":
        packed[-8] ^= 0xFF
    elif damage == "cut":
        del packed[len(packed) // 2:]
    else:
        packed += b"not gzip"
    path = tmp_path / "damaged.gz"
    path.write_bytes(bytes(packed))
    assert feed_format(path) == "binaryfile.gz"
    errors = ErrorLog()
    assert sum(len(c.data) for c in open_feed(path, errors=errors)) > 0
    assert errors.counts["gzip_error"] == 1
