"""Scale-out replay on Ray: shards by feed file and, within a file, by stock locate.

Every shard reads the whole file, routes its records as `tickaccel.book.shards` does (the
same router, the order map following every order to its locate's shard) and keeps the
records of its own locates, so each message reaches exactly one shard book, which sees
exactly the part of the feed the single book would have applied to its locates; the merged
outputs (rows sorted by sequence, errors summed) equal a single-process replay's.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tickaccel.book.shards import Router, ShardBook, in_seq_order, shard_of_locate
from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.feed.chunk import FeedChunk
from tickaccel.feed.source import feed_format, open_feed
from tickaccel import __version__
from tickaccel.batch.backends import DEFAULT_COMPRESSION, Progress, check_compression, feed_outdirs
from tickaccel.batch.summary import write_summary
from tickaccel.schema.analysis import TableForm, file_sha256, table_metadata
from tickaccel.schema.tables import printable_trades

@dataclass
class ShardResult:
    """What one shard produced: its tables, book and feed errors, counts."""

    feed: str
    shard: int
    tables: dict[str, pa.Table]
    errors: dict[str, tuple[int, int]]  # kind -> (count, first position)
    feed_errors: dict[str, tuple[int, int]]
    message_counts: dict[str, int]
    records: int
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def replay_shard(feed: str, shard: int, n_shards: int, *, depth: int = 0, trades: bool = False,
                 symbols: Sequence[str] | None = None, progress=None) -> ShardResult:
    """Replay one symbol shard of one feed file (a Ray task, or a plain call)."""
    t0 = time.perf_counter()
    feed_errors = ErrorLog()
    book = ShardBook(depth, trades, None if symbols is None else list(symbols))
    router = Router(shard_of_locate(n_shards))
    pieces: dict[str, list[pa.Table]] = {}
    for chunk in open_feed(feed, errors=feed_errors):
        for name, table in book.process(router.route(chunk).part(shard)).items():
            pieces.setdefault(name, []).append(table)
        if progress is not None:
            progress.add.remote(feed, shard, len(chunk.data))
    errors = {k: (c, book.errors.first[k]) for k, c in book.errors.counts.items()}
    return ShardResult(feed, shard, {k: pa.concat_tables(v) for k, v in pieces.items()},
                       errors, {k: (c, feed_errors.first[k]) for k, c in feed_errors.counts.items()},
                       book.message_counts, book.book.records, time.perf_counter() - t0)


def merge_shards(results: Iterable[ShardResult], printable_only: bool = False
                 ) -> tuple[dict[str, pa.Table], dict]:
    """Tables in sequence order and the summary of one feed's shards; `printable_only` keeps
    only the trades that count in volume (`printable_trades`)."""
    results = sorted(results, key=lambda r: r.shard)
    tables = {}
    for name in results[0].tables:
        tables[name] = in_seq_order([r.tables[name] for r in results])
    if printable_only and "trades" in tables:
        tables["trades"] = printable_trades(tables["trades"])
    errors = ErrorLog()
    for r in results:
        for kind, (count, first) in r.errors.items():
            errors.add(kind, first, count)
    for kind, (count, first) in results[0].feed_errors.items():  # every shard read the same file
        errors.add(kind, first, count)
    counts: dict[str, int] = {}
    for r in results:
        for t, n in r.message_counts.items():
            counts[t] = counts.get(t, 0) + n
    summary = {
        "messages": sum(counts.values()),
        "records": sum(r.records for r in results),
        "message_counts": dict(sorted(counts.items())),
        "errors": errors.to_dict(),
        "rows": {name: t.num_rows for name, t in tables.items()},
        "shards": len(results),
        "shard_seconds": [round(r.seconds, 3) for r in results],
    }
    return tables, summary


def replay_cluster(feeds: str | os.PathLike | Sequence[str | os.PathLike], outdir: str | os.PathLike, *,
                   cluster: str = "local", workers: int | None = None, depth: int = 0,
                   trades: bool = False, printable_only: bool = False,
                   symbols: Sequence[str] | None = None, compression: str = DEFAULT_COMPRESSION,
                   prices: str = "int", date: str | None = None, dictionary: bool = False,
                   shards_per_feed: int | None = None,
                   progress: Progress | None = None) -> dict:
    """Replay a feed or several on Ray, sharded by file and symbol; writes the tables the cpu backend writes.

    `cluster` is "local" (start Ray here with `workers` CPUs, unless Ray is
    already up) or a Ray address such as ``ray://head:10001``. Each feed's tables
    (compressed with `compression`: zstd, lz4 or none) and summary go where
    `feed_outdirs` says; `progress` gets (bytes read by all shards, their total or
    None). Returns the summary, with every feed's, also written to
    ``OUTDIR/summary.json`` when there are several feeds. `printable_only` keeps
    only the trades that count in volume, as the cpu backend does; `prices`, `date` and
    `dictionary` choose the tables' form and every table carries the cpu backend's metadata
    (`tickaccel.schema.analysis`).
    """
    import ray

    check_compression(compression)
    form = TableForm.make(prices, date, dictionary)
    feeds = [os.fspath(feeds)] if isinstance(feeds, (str, os.PathLike)) else [os.fspath(f) for f in feeds]
    for f in feeds:
        if not os.path.isfile(f):
            raise TickaccelError(f"no such file: {f}")
    outdir = Path(outdir)
    targets = feed_outdirs(outdir, feeds)
    started = not ray.is_initialized()
    if started:
        if cluster == "local":
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=cluster, log_to_driver=False)
    try:
        n_shards = shards_per_feed or max(1, workers or int(ray.cluster_resources().get("CPU", 1)))
        tracker = ray.remote(num_cpus=0)(ProgressCounter).remote()
        task = ray.remote(num_cpus=1)(replay_shard)
        pending = {
            task.remote(f, s, n_shards, depth=depth, trades=trades,
                        symbols=list(symbols) if symbols else None, progress=tracker): (f, s)
            for f in feeds for s in range(n_shards)
        }
        # Bytes read are known ahead only for plain BinaryFILE; otherwise the bar just counts.
        plain = all(feed_format(f) == "binaryfile" for f in feeds)
        total = n_shards * sum(os.path.getsize(f) for f in feeds) if plain else None
        results = _collect(ray, pending, tracker, progress, total)
    finally:
        if started:
            ray.shutdown()
    summary: dict = {"feeds": {}, "shards_per_feed": n_shards, "address": cluster}
    for f, target in zip(feeds, targets):
        tables, feed_summary = merge_shards((r for r in results if r.feed == f), printable_only)
        target.mkdir(parents=True, exist_ok=True)
        metadata = table_metadata(form, source=f, source_sha256=file_sha256(f), backend="cluster",
                                  version=__version__)
        for name, table in tables.items():
            table = form.apply(table)
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
            pq.write_table(table, target / f"{name}.parquet", compression=compression)
        summary["feeds"][f] = feed_summary
        write_summary(target, feed_summary)
    if len(feeds) > 1:
        outdir.mkdir(parents=True, exist_ok=True)
        write_summary(outdir, summary)
    return summary


def _collect(ray, pending: dict, tracker, progress: Progress | None, total_bytes: int | None
             ) -> list[ShardResult]:
    """Wait for every shard, reporting the bytes the shards have read to `progress`."""
    results: list[ShardResult] = []
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1, timeout=0.25)
        for ref in done:
            pending.pop(ref)
            results.append(ray.get(ref))
        if progress is not None:
            progress(ray.get(tracker.total.remote()), total_bytes)
    return results


class ProgressCounter:
    """Bytes read by each shard, summed for the driver's progress bar (a Ray actor)."""

    def __init__(self) -> None:
        self.done: dict[tuple[str, int], int] = {}

    def add(self, feed: str, shard: int, nbytes: int) -> None:
        self.done[(feed, shard)] = self.done.get((feed, shard), 0) + nbytes

    def total(self) -> int:
        return sum(self.done.values())


class ShardActor:
    """One symbol shard's book for the live path (a Ray actor): route, cut, then apply."""

    def __init__(self, shard: int, n_shards: int, depth: int = 0,
                 symbols: Sequence[str] | None = None) -> None:
        self.shard = shard
        self.router = Router(shard_of_locate(n_shards))
        self.book = ShardBook(depth, False, None if symbols is None else list(symbols))

    def process(self, chunk: FeedChunk) -> pa.Table:
        return self.book.process(self.router.route(chunk).part(self.shard))["bbo"]

    def errors(self) -> dict[str, tuple[int, int]]:
        log = self.book.errors
        return {k: (c, log.first[k]) for k, c in log.counts.items()}

    def message_counts(self) -> dict[str, int]:
        return self.book.message_counts


class ShardedSink:
    """The live receiver's book stage spread over Ray actors, one per symbol shard.

    Each in-order chunk is put in the object store once and every actor keeps
    its own shard of it; their BBO rows come back merged in sequence order, so
    the output equals the single book's. Ray must already be initialised.
    """

    def __init__(self, n_shards: int, depth: int = 0,
                 symbols: Sequence[str] | None = None) -> None:
        import ray

        self._ray = ray
        actor = ray.remote(num_cpus=1)(ShardActor)
        self.actors = [actor.remote(s, n_shards, depth, symbols) for s in range(n_shards)]

    def process(self, chunk: FeedChunk) -> pa.Table:
        ref = self._ray.put(chunk)
        return in_seq_order(self._ray.get([a.process.remote(ref) for a in self.actors]))

    @property
    def errors(self) -> ErrorLog:
        log = ErrorLog()
        for errors in self._ray.get([a.errors.remote() for a in self.actors]):
            for kind, (count, first) in errors.items():
                log.add(kind, first, count)
        return log

    @property
    def message_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for part in self._ray.get([a.message_counts.remote() for a in self.actors]):
            for t, n in part.items():
                counts[t] = counts.get(t, 0) + n
        return counts

    def close(self) -> None:
        for a in self.actors:
            self._ray.kill(a)
