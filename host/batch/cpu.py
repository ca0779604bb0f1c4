"""Replay a feed file through an order book into Parquet tables and a JSON summary."""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pyarrow.parquet as pq

from tickaccel.book.fast import FastBook
from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.feed.source import feed_format, open_feed
from tickaccel.book.oracle import OracleBook
from tickaccel.schema.tables import BBO_SCHEMA, TRADES_SCHEMA, depth_schema

ENGINES = ("fast", "oracle")
CHUNK_BYTES = 16 << 20

# progress(bytes done, total bytes or None when unknown, e.g. for gzip input)
Progress = Callable[[int, "int | None"], None]


def make_book(engine: str, depth: int = 0, trades: bool = False,
              symbols: Iterable[str] | None = None) -> FastBook | OracleBook:
    """A fresh book of the named engine ('fast' or 'oracle')."""
    if engine == "fast":
        return FastBook(depth=depth, trades=trades, symbols=symbols)
    if engine == "oracle":
        return OracleBook(depth=depth, trades=trades, symbols=symbols)
    raise TickaccelError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")


def feed_outdir(outdir: str | os.PathLike, feed: str | os.PathLike,
                feeds: Sequence[str | os.PathLike]) -> Path:
    """One feed writes straight into `outdir`; several each into a folder named after the file."""
    if len(feeds) == 1:
        return Path(outdir)
    return Path(outdir) / Path(feed).name.split(".")[0]


def replay(feed_path: str | os.PathLike, outdir: str | os.PathLike, *, depth: int = 0,
           trades: bool = False, symbols: Iterable[str] | None = None, engine: str = "fast",
           progress: Progress | None = None, chunk_bytes: int = CHUNK_BYTES) -> dict:
    """Replay `feed_path` into ``OUTDIR/{bbo,depth,trades}.parquet`` and ``OUTDIR/summary.json``.

    Tables are written chunk by chunk, so memory stays bounded and rows
    already written survive a later failure; the summary is written either way.
    """
    if depth < 0:
        raise TickaccelError(f"depth must be 0 or more, got {depth}")
    fmt = feed_format(feed_path)  # raises TickaccelError on missing or unrecognised input
    symbols = None if symbols is None else sorted({s.strip() for s in symbols if s.strip()})
    too_long = [s for s in symbols or () if len(s) > 8]
    if too_long:
        raise TickaccelError(f"ITCH symbols are at most 8 characters: {', '.join(too_long)}")
    book = make_book(engine, depth, trades, symbols)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    schemas = {"bbo": BBO_SCHEMA}
    if depth:
        schemas["depth"] = depth_schema(depth)
    if trades:
        schemas["trades"] = TRADES_SCHEMA
    writers = {name: pq.ParquetWriter(out / f"{name}.parquet", schema, compression="zstd")
               for name, schema in schemas.items()}
    rows = dict.fromkeys(schemas, 0)
    feed_errors = ErrorLog()
    total = None if fmt == "binaryfile.gz" else os.path.getsize(feed_path)
    done = 0
    started = time.perf_counter()
    failure = None
    try:
        for chunk in open_feed(feed_path, errors=feed_errors, chunk_bytes=chunk_bytes):
            for name, table in book.process(chunk).items():
                if table.num_rows:
                    writers[name].write_table(table)
                    rows[name] += table.num_rows
            done += len(chunk.data)
            if progress is not None:
                progress(done if total is None else min(done, total), total)
    except Exception as exc:
        failure = exc
        raise
    finally:
        for writer in writers.values():
            writer.close()
        elapsed = time.perf_counter() - started
        summary = _summary(feed_path, fmt, engine, book, feed_errors, rows, elapsed,
                           {name: str(out / f"{name}.parquet") for name in schemas}, failure)
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _summary(feed_path: str | os.PathLike, fmt: str, engine: str, book: FastBook | OracleBook,
             feed_errors: ErrorLog, rows: dict[str, int], elapsed: float,
             outputs: dict[str, str], failure: Exception | None) -> dict:
    errors = ErrorLog()
    errors.merge(feed_errors)
    errors.merge(book.errors)
    counts = dict(sorted(book.message_counts.items()))
    messages = sum(counts.values())
    summary = {
        "input": os.fspath(feed_path),
        "format": fmt,
        "engine": engine,
        "records": book.records,
        "messages": messages,
        "message_counts": counts,
        "rows": rows,
        "outputs": outputs,
        "elapsed_s": round(elapsed, 6),
        "messages_per_s": round(messages / elapsed, 1) if elapsed > 0 else None,
        "errors": errors.to_dict(),
    }
    if failure is not None:
        summary["failed"] = f"{type(failure).__name__}: {failure}"
    return summary

