"""Books sharded by stock locate, on threads: one `FastBook` per shard, all working at once.

Each chunk is routed once, in feed order (`tickaccel.book.fast.route_records`): A/F, R, P,
Q, B and messages about unknown orders go to the shard of their stock locate, E/C/X/D/U to
the shard whose book holds the order (an order map in the order store's layout tracks each
live reference's locate and shares under the book's add/reduce/remove rules), bad records
to shard 0. Then every shard, on a thread of its own, gathers its records with their
sequence numbers into a chunk of its own and applies it; the kernels release the GIL. So each
shard's book sees exactly what one book would apply to its locates: rows merged in
sequence order, counts summed and error positions mapped back to the feed's give the
tables, errors and counts of one book.

One message needs more than routing: a U whose new reference is live in another shard. One
book removes the original, counts ``duplicate_order_ref`` and adds nothing; the original's
shard does not hold the new reference and would add it. The router marks that U, its shard
applies it as the D it amounts to, and the duplicate is counted here.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa

from tickaccel.book.fast import (
    DONE, FastBook, gather_records, grown_order_store, new_order_store, route_records)
from tickaccel.errors import ErrorLog
from tickaccel.feed.binaryfile import record_offsets, whole_records_end
from tickaccel.feed.chunk import FeedChunk
from tickaccel.native import compiled
from tickaccel.schema import itch

MAX_SHARDS = 256  # a shard number is a byte
_N_LOCATES = 1 << 16


def shard_of_locate(n_shards: int) -> np.ndarray:
    """Stock locate -> shard, dealt round robin so busy low locates spread out: what every
    shard of a feed computes alike without reading ahead (the cluster's shards)."""
    return (np.arange(_N_LOCATES) % n_shards).astype(np.uint8)


def balanced_shards(data: np.ndarray, n_shards: int) -> np.ndarray:
    """Shard of each stock locate, balancing the messages of `data` (a feed's first chunk):
    the busiest locates first, each to the shard with the fewest messages so far; locates
    `data` does not name are dealt round robin."""
    counts = _locate_counts(data)
    shards = shard_of_locate(n_shards)
    load = [(0, shard) for shard in range(n_shards)]
    for locate in np.argsort(-counts, kind="stable")[:np.count_nonzero(counts)].tolist():
        total, shard = heapq.heappop(load)
        shards[locate] = shard
        heapq.heappush(load, (total + int(counts[locate]), shard))
    return shards


def _locate_counts(data: np.ndarray) -> np.ndarray:
    """Well-formed messages per stock locate in length-prefixed `data`."""
    starts = compiled(record_offsets)(data)
    lengths = (data[starts].astype(np.int64) << 8) | data[starts + 1]
    at = starts[lengths >= 3] + 2  # the type byte; the locate follows it
    at = at[itch.LENGTH_BY_TYPE[data[at]] == lengths[lengths >= 3]]
    return np.bincount((data[at + 1].astype(np.int64) << 8) | data[at + 2], minlength=_N_LOCATES)


@dataclass
class ShardPart:
    """One shard's records of a routed chunk: `chunk` (explicit sequence numbers), the feed
    position of each record (`positions`: file offset or sequence, as one book reports
    errors) and the positions of its U messages applied as D (`replaced`), each a
    ``duplicate_order_ref`` that one book would count."""

    chunk: FeedChunk
    positions: np.ndarray
    replaced: np.ndarray

    def first_position(self, seq: int) -> int:
        """The feed position of the record with sequence number `seq`, as this part's book
        reports the first error of a kind."""
        return int(self.positions[np.searchsorted(self.chunk.seqs, seq)])


class RoutedChunk:
    """A chunk whose records each have a shard (`Router.route`); `part` cuts one shard's out."""

    def __init__(self, chunk: FeedChunk, data: np.ndarray, count: int, shards: np.ndarray,
                 offsets: np.ndarray, rewrites: np.ndarray) -> None:
        self.data, self.count = data, count
        self.shards, self.offsets, self.rewrites = shards, offsets, rewrites
        self.seqs = np.arange(chunk.first_seq, chunk.first_seq + count, dtype=np.uint64) \
            if chunk.seqs is None else np.asarray(chunk.seqs, np.uint64)
        self.positions = chunk.base_offset + offsets[:count] if chunk.base_offset >= 0 \
            else self.seqs[:count].astype(np.int64)

    def part(self, shard: int) -> ShardPart:
        """Shard `shard`'s records, back to back (`gather_records`)."""
        out = np.empty(len(self.data), np.uint8)
        kept = np.empty(self.count, np.int64)
        # Numba's build: it releases the GIL, so the shards' threads gather at once.
        used, n = gather_records(self.data, self.count, self.shards, self.offsets, self.rewrites,
                                 shard, out, kept)
        kept = kept[:n]
        seqs = self.seqs[kept]
        return ShardPart(FeedChunk(out[:used], int(seqs[0]) if n else 0, seqs, -1),
                         self.positions[kept], self.positions[kept[self.rewrites[kept]]])


class Router:
    """Routes the chunks of one feed, in order, to the shards of `shard_of_locate` (uint8 per
    stock locate); keeps the order map between chunks."""

    def __init__(self, shard_of_locate: np.ndarray) -> None:
        self.shard_of_locate = np.asarray(shard_of_locate, np.uint8)
        self._owners = new_order_store(1 << 16)
        self._live = np.zeros(1, np.int64)

    def route(self, chunk: FeedChunk) -> RoutedChunk:
        data = np.ascontiguousarray(chunk.data, dtype=np.uint8)
        bound = compiled(whole_records_end)(data, len(data))[1] + 1  # and a truncated last one
        shards, offsets = np.empty(bound, np.uint8), np.empty(bound, np.int64)
        rewrites = np.empty(bound, np.bool_)
        pos, index = 0, 0
        while True:
            status, pos, index = compiled(route_records)(
                data, pos, index, self._owners, self._live, self.shard_of_locate, shards, offsets,
                rewrites)
            if status == DONE:
                return RoutedChunk(chunk, data, index, shards, offsets, rewrites)
            self._owners = grown_order_store(self._owners)


class ShardBook:
    """One shard's `FastBook` with what turns its counts into one book's: error positions in
    the feed, and its U messages applied as D counted as one book counts them."""

    def __init__(self, depth: int, trades: bool, symbols: list[str] | None) -> None:
        self.book = FastBook(depth=depth, trades=trades, symbols=symbols, gil_free=True)
        self.errors = ErrorLog()
        self._counted: dict[str, int] = {}  # the book's own counts already in `errors`
        self._replaces_as_deletes = 0

    def process(self, part: ShardPart) -> dict[str, pa.Table]:
        tables = self.book.process(part.chunk)
        for kind, total in self.book.errors.counts.items():
            new = total - self._counted.get(kind, 0)
            if new:
                first = self.errors.first[kind] if kind in self.errors.first else \
                    part.first_position(self.book.errors.first[kind])
                self.errors.add(kind, first, new)
                self._counted[kind] = total
        for position in part.replaced.tolist():
            self.errors.add("duplicate_order_ref", position)
        self._replaces_as_deletes += len(part.replaced)
        return tables

    @property
    def message_counts(self) -> dict[str, int]:
        counts = dict(self.book.message_counts)
        if self._replaces_as_deletes:
            counts["U"] = counts.get("U", 0) + self._replaces_as_deletes
            counts["D"] -= self._replaces_as_deletes
            if not counts["D"]:
                del counts["D"]
        return counts


class ShardedBook:
    """Every book of a feed, split by stock locate over `threads` `FastBook`s working at once.

    Same interface and results as one `FastBook` (`process`, `errors`, `message_counts`,
    `records`, `symbols`); the locates are dealt to balance the first chunk's messages.
    """

    def __init__(self, threads: int, depth: int = 0, trades: bool = False,
                 symbols: Iterable[str] | None = None) -> None:
        if not 2 <= threads <= MAX_SHARDS:
            raise ValueError(f"a sharded book has 2 to {MAX_SHARDS} threads")
        symbols = None if symbols is None else list(symbols)
        self.shards = [ShardBook(depth, trades, symbols) for _ in range(threads)]
        self._router: Router | None = None

    def process(self, chunk: FeedChunk) -> dict[str, pa.Table]:
        """Apply every record of `chunk`; returns the rows it produced as Arrow tables."""
        if self._router is None:
            self._router = Router(balanced_shards(np.ascontiguousarray(chunk.data, np.uint8),
                                                  len(self.shards)))
        routed = self._router.route(chunk)
        with ThreadPoolExecutor(len(self.shards), thread_name_prefix="tickaccel-book") as pool:
            parts = list(pool.map(lambda shard: self.shards[shard].process(routed.part(shard)),
                                  range(len(self.shards))))
        return {name: in_seq_order([tables[name] for tables in parts]) for name in parts[0]}

    @property
    def errors(self) -> ErrorLog:
        """Counted record and book errors so far, with their first positions in the feed."""
        log = ErrorLog()
        for shard in self.shards:
            log.merge(shard.errors)
        return log

    @property
    def message_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for shard in self.shards:
            for kind, n in shard.message_counts.items():
                counts[kind] = counts.get(kind, 0) + n
        return dict(sorted(counts.items()))

    @property
    def records(self) -> int:
        return sum(shard.book.records for shard in self.shards)

    @property
    def symbols(self) -> dict[int, str]:
        """Stock locate -> symbol, from the R messages seen so far."""
        names: dict[int, str] = {}
        for shard in self.shards:
            names.update(shard.book.symbols)
        return dict(sorted(names.items()))


def in_seq_order(parts: list[pa.Table]) -> pa.Table:
    """The shards' rows of one table as one table in sequence order (each part is in order
    and the rows of one sequence number are all in one part)."""
    import pyarrow.compute as pc

    table = pa.concat_tables(parts)
    return table.take(pc.sort_indices(table, [("seq", "ascending")]))
