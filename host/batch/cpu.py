"""The cpu backend: a feed file through the fast (Numba) or the oracle book, here, into Parquet tables."""
from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from pathlib import Path

import pyarrow.parquet as pq

from tickaccel.batch.backends import ENGINES, Progress, check_symbols
from tickaccel.batch.summary import ReplayFailed, ReplayInterrupted, replay_summary, write_summary
from tickaccel.book.fast import FastBook
from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.feed.source import feed_format, open_feed
from tickaccel.book.oracle import OracleBook
from tickaccel.schema.tables import BBO_SCHEMA, TRADES_SCHEMA, depth_schema

CHUNK_BYTES = 16 << 20


def make_book(engine: str, depth: int = 0, trades: bool = False,
              symbols: Iterable[str] | None = None) -> FastBook | OracleBook:
    """A fresh book of the named engine ('fast' or 'oracle')."""
    if engine == "fast":
        return FastBook(depth=depth, trades=trades, symbols=symbols)
    if engine == "oracle":
        return OracleBook(depth=depth, trades=trades, symbols=symbols)
    raise TickaccelError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")


def replay_cpu(feed_path: str | os.PathLike, outdir: str | os.PathLike, *, depth: int = 0,
               trades: bool = False, symbols: Iterable[str] | None = None, engine: str = "fast",
               progress: Progress | None = None, chunk_bytes: int = CHUNK_BYTES) -> dict:
    """Replay `feed_path` into ``OUTDIR/{bbo,depth,trades}.parquet`` and ``OUTDIR/summary.json``.

    Tables are written chunk by chunk, so memory stays bounded and rows already
    written survive a later failure. The summary is written either way: an exception
    while replaying is counted as a ``replay_failed`` error (at the feed bytes read
    before it), named in ``failed`` and raised as `ReplayFailed`; a KeyboardInterrupt
    as `ReplayInterrupted`, a KeyboardInterrupt too.
    """
    fmt = feed_format(feed_path)  # raises TickaccelError on missing or unrecognised input
    symbols = None if symbols is None else check_symbols(symbols)
    book = make_book(engine, depth, trades, symbols)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    schemas = {"bbo": BBO_SCHEMA}
    if depth:
        schemas["depth"] = depth_schema(depth)
    if trades:
        schemas["trades"] = TRADES_SCHEMA
    rows = dict.fromkeys(schemas, 0)
    feed_errors = ErrorLog()
    total = None if fmt == "binaryfile.gz" else os.path.getsize(feed_path)
    done = 0
    started = time.perf_counter()
    failure: BaseException | None = None
    try:
        with contextlib.ExitStack() as writers_open:  # closes every writer, even when one fails
            writers = {name: writers_open.enter_context(
                           pq.ParquetWriter(out / f"{name}.parquet", schema, compression="zstd"))
                       for name, schema in schemas.items()}
            for chunk in open_feed(feed_path, errors=feed_errors, chunk_bytes=chunk_bytes):
                for name, table in book.process(chunk).items():
                    if table.num_rows:
                        writers[name].write_table(table)
                        rows[name] += table.num_rows
                done += len(chunk.data)
                if progress is not None:
                    progress(done if total is None else min(done, total), total)
    except (Exception, KeyboardInterrupt) as exc:
        failure = exc
    errors = ErrorLog()
    errors.merge(feed_errors)
    errors.merge(book.errors)
    if failure is not None:
        errors.add("replay_failed", done)
    summary = replay_summary(feed_path, fmt, engine, records=book.records,
                             message_counts=book.message_counts, rows=rows,
                             outputs={name: str(out / f"{name}.parquet") for name in schemas},
                             elapsed=time.perf_counter() - started, errors=errors, failure=failure)
    write_summary(out, summary)
    if isinstance(failure, KeyboardInterrupt):
        raise ReplayInterrupted(summary, out) from failure
    if failure is not None:
        raise ReplayFailed(summary, out) from failure
    return summary
