"""The BBO ring (shared memory) and the two receive loops: what local readers and subscribers see.

Every network wait is bounded, as in test_live.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from test_live import FEED_MESSAGES, feed, offline_bbo, run_pair  # noqa: F401  (fixtures)
from tickaccel.book.fast import FastBook
from tickaccel.errors import TickaccelError
from tickaccel.live.receiver import LiveReceiver
from tickaccel.live.segments import read_segments
from tickaccel.live.shm_ring import SLOT_BYTES, BboRing, BboRingReader
from tickaccel.live.sinks import BookSink
from tickaccel.live.wire import BBO_RECORD, records_table


def numbered(first: int, n: int) -> np.ndarray:
    """`n` records whose seq runs from `first`: each one recognisable after a round trip."""
    records = np.zeros(n, BBO_RECORD)
    records["seq"] = np.arange(first, first + n)
    records["symbol"] = b"SYM"
    return records


def test_reader_in_step_with_the_writer_gets_every_record_in_order(tmp_path):
    ring = BboRing(tmp_path / "ring", capacity=64)
    reader = BboRingReader(tmp_path / "ring")  # another mapping of the file, as a process has
    got = []
    for first in range(1, 1000, 37):  # many laps of the ring, never more than it holds behind
        ring.put(numbered(first, 37))
        got.append(reader.read())
    got = np.concatenate(got)
    assert got["seq"].tolist() == list(range(1, 1 + 37 * len(range(1, 1000, 37))))
    assert reader.lost == 0 and reader.available() == 0 and not reader.ended
    ring.set_flags(ended=True, stale=True)
    assert reader.ended and reader.stale
    reader.close()
    ring.close()
    assert (tmp_path / "ring").stat().st_size == 64 + 64 * SLOT_BYTES


def test_reader_overrun_is_detected_and_counted(tmp_path):
    ring = BboRing(tmp_path / "ring", capacity=16)
    reader = BboRingReader(tmp_path / "ring")
    ring.put(numbered(1, 16))
    assert reader.read(limit=8)["seq"].tolist() == list(range(1, 9))
    ring.put(numbered(17, 12))  # overwrites records 1..12; the reader still wanted 9..12
    after = reader.read()
    assert after["seq"].tolist() == list(range(13, 29))
    assert reader.lost == 4
    # Ring records 28..31 (seq 29..32); the writer marking the last one's slot for record
    # 47 while the reader copies: that one, and the older ones before it, are dropped whole.
    ring.put(numbered(29, 4))
    ring.slot_words[31 % 16, 0] = 31 + 16
    assert reader.read()["seq"].tolist() == []
    assert reader.lost == 4 + 4
    reader.close()
    ring.close()


def test_a_file_that_is_not_a_ring_is_refused(tmp_path):
    (tmp_path / "junk").write_bytes(b"x" * 256)
    with pytest.raises(ValueError):
        BboRingReader(tmp_path / "junk")


@pytest.mark.parametrize("compiled", [None, False])
def test_shared_ring_holds_what_the_segments_hold(feed, offline_bbo, tmp_path, compiled):
    """A local reader of the shared ring sees the replay's BBO, from either receive loop;
    the compiled loop (None: where it can run) and the portable one give the same book."""
    ring_path = tmp_path / "bbo.ring"
    summary, _ = run_pair(feed, tmp_path / "out", faults="drop=0.02,reorder=0.02,seed=6",
                          shm=ring_path, compiled=compiled, ring_capacity=1 << 17)
    assert summary["loop"] == ("portable" if compiled is False else "compiled")
    assert summary["end_of_session"] and not summary["stale"]
    assert read_segments(tmp_path / "out").equals(offline_bbo)
    reader = BboRingReader(ring_path)
    records = reader.read(limit=1 << 17)
    assert reader.ended and reader.lost == 0 and len(records) == summary["rows"]["bbo"]
    assert records_table(records).equals(offline_bbo)
    reader.close()


def test_pinning_to_a_core_this_process_may_not_use_is_refused(tmp_path):
    with pytest.raises(TickaccelError):
        LiveReceiver(("127.0.0.1", 0), tmp_path, cpu=1 << 20)


def test_pinned_busy_polling_loop_gives_the_offline_book(feed, offline_bbo, tmp_path):
    core = min(os.sched_getaffinity(0))
    summary, _ = run_pair(feed, tmp_path, spin=True, cpu=core)
    assert summary["loop"] == "compiled" and summary["messages"] == FEED_MESSAGES
    assert os.sched_getaffinity(0) != {core} or len(os.sched_getaffinity(0)) == 1  # restored
    assert read_segments(tmp_path).equals(offline_bbo)


def test_book_growth_inside_a_datagram_resumes_where_it_stopped(feed, offline_bbo, tmp_path):
    """A book that starts tiny must grow its order table and level pool many times, often
    in the middle of a datagram: the loop hands over, the book grows, the loop resumes."""
    sink = BookSink()
    sink.book = FastBook(order_capacity=2, level_pool=8)
    summary, _ = run_pair(feed, tmp_path, sink=sink, faults="reorder=0.05,seed=7")
    assert summary["loop"] == "compiled" and summary["messages"] == FEED_MESSAGES
    assert sink.book.live_orders > 2  # it grew
    assert read_segments(tmp_path).equals(offline_bbo)
