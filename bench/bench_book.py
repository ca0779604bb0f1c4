"""pytest-benchmark: columnar decode and the fast book over an in-memory generated feed.

    pytest bench/bench_book.py --benchmark-only
"""
from __future__ import annotations

import numpy as np
import pytest

from tickaccel.schema import itch
from tickaccel.feed.binaryfile import record_offsets
from tickaccel.book.fast import FastBook
from tickaccel.feed.chunk import FeedChunk
from tickaccel.feed.generator import generate

N_MESSAGES = 1_000_000


@pytest.fixture(scope="module")
def feed() -> np.ndarray:
    return generate(N_MESSAGES, n_symbols=1000, seed=0)


def test_decode_batch(benchmark, feed):
    offsets = record_offsets(feed) + 2
    framed = itch.Framed(feed, offsets, np.arange(1, len(offsets) + 1, dtype=np.uint64))
    decoded = benchmark(itch.decode_batch, framed)
    assert sum(len(v) for v in decoded.values()) == N_MESSAGES


@pytest.mark.parametrize("depth,trades", [(0, False), (5, True)], ids=["bbo", "bbo+depth5+trades"])
def test_fast_book(benchmark, feed, depth, trades):
    chunk = FeedChunk(feed, 1, None, 0)
    FastBook(depth=depth, trades=trades).process(chunk)  # compile outside the timing

    def run():
        book = FastBook(depth=depth, trades=trades)
        return book, book.process(chunk)

    book, tables = benchmark(run)
    assert book.records == N_MESSAGES and tables["bbo"].num_rows > 0
    benchmark.extra_info["messages_per_s"] = N_MESSAGES / benchmark.stats["min"]


def test_fast_book_columns_small_chunk(benchmark, feed):
    """Per-call cost of the live path: one 200-message chunk through `process_columns`."""
    offsets = record_offsets(feed)
    book = FastBook()
    book.process_columns(FeedChunk(feed[:offsets[10_000]], 1, None, 0))  # build some books
    chunk = FeedChunk(feed[offsets[10_000]:offsets[10_200]].copy(), 10_001, None,
                      int(offsets[10_000]))
    # Replaying the same records again only hits duplicate/unknown references: a
    # fixed-cost lower bound, which is the Python and dispatch overhead being guarded.
    benchmark(book.process_columns, chunk)


@pytest.mark.parametrize("threads", [2, 4])
def test_sharded_book(benchmark, feed, threads):
    """The book split by symbol over threads (`replay --threads`): route once, then each
    thread gathers and applies its locates' records; compare with `test_fast_book[bbo]`."""
    from tickaccel.book.shards import ShardedBook

    chunks = [FeedChunk(feed[start:end], 0, None, 0) for start, end in _chunk_bounds(feed)]
    ShardedBook(threads).process(chunks[0])  # compile outside the timing

    def run():
        book = ShardedBook(threads)
        for chunk in chunks:
            book.process(chunk)
        return book

    book = benchmark(run)
    assert book.records == N_MESSAGES
    benchmark.extra_info["messages_per_s"] = N_MESSAGES / benchmark.stats["min"]


def _chunk_bounds(feed: np.ndarray, chunk_bytes: int = 16 << 20) -> list[tuple[int, int]]:
    """Whole-record chunks of about `chunk_bytes`, as a replay reads them."""
    offsets = np.append(record_offsets(feed), len(feed))
    cuts = np.searchsorted(offsets, np.arange(chunk_bytes, len(feed), chunk_bytes))
    edges = [0, *offsets[cuts].tolist(), len(feed)]
    return [(a, b) for a, b in zip(edges, edges[1:]) if b > a]
