"""The cpu backend: a feed file through the fast (Numba) or the oracle book, here, into Parquet tables."""
from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tickaccel import __version__
from tickaccel.batch.backends import (
    DEFAULT_COMPRESSION, ENGINES, Progress, check_compression, check_symbols, check_threads)
from tickaccel.batch.summary import ReplayFailed, ReplayInterrupted, replay_summary, write_summary
from tickaccel.book.fast import FastBook
from tickaccel.book.oracle import OracleBook, check_depth
from tickaccel.book.shards import ShardedBook
from tickaccel.errors import BackendUnavailable, ErrorLog, TickaccelError
from tickaccel.feed.source import feed_format, open_feed
from tickaccel.jit import CompileWatch
from tickaccel.schema.analysis import TableForm, file_sha256_started, table_metadata
from tickaccel.schema.tables import BBO_SCHEMA, TRADES_SCHEMA, depth_schema, printable_trades

CHUNK_BYTES = 16 << 20
FRAME_KINDS = ("arrow", "pandas", "polars")  # what `replay_tables` hands back
# Chunks' tables waiting for the writer thread: enough to keep it busy while the book works,
# few enough that memory stays a few chunks' rows.
WRITE_QUEUE_CHUNKS = 2


def make_book(engine: str, depth: int = 0, trades: bool = False,
              symbols: Iterable[str] | None = None, threads: int = 1) -> FastBook | OracleBook | ShardedBook:
    """A fresh book of the named engine ('fast' or 'oracle'); the fast one split by symbol over
    `threads` threads when more than one."""
    check_threads(threads, engine)
    if engine == "fast":
        if threads > 1:
            return ShardedBook(threads, depth=depth, trades=trades, symbols=symbols)
        return FastBook(depth=depth, trades=trades, symbols=symbols)
    if engine == "oracle":
        return OracleBook(depth=depth, trades=trades, symbols=symbols)
    raise TickaccelError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")


class ParquetTablesWriter:
    """Writes each chunk's tables into their Parquet files on a thread of its own.

    Encoding and compression (pyarrow releases the GIL for them) then overlap the
    book's work on the next chunk; a bounded queue keeps memory to a few chunks.
    `rows` counts the rows written. An exception in the thread is raised again by
    the next `put` or by `check`; the thread drops what is queued after it, so a
    full queue never blocks the replay.
    """

    _DONE = object()  # the last item on the queue

    def __init__(self, writers: dict[str, pq.ParquetWriter]) -> None:
        self.rows = dict.fromkeys(writers, 0)
        self._writers = writers
        self._queue: queue.Queue = queue.Queue(maxsize=WRITE_QUEUE_CHUNKS)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="tickaccel-parquet-writer", daemon=True)
        self._thread.start()

    def put(self, tables: dict[str, pa.Table]) -> None:
        """Queue one chunk's tables; waits while the queue is full."""
        self.check()
        self._queue.put(tables)

    def stop(self) -> None:
        """Let the thread write what is queued, and wait for it to end."""
        self._queue.put(self._DONE)
        self._thread.join()

    def check(self) -> None:
        """Raise the exception the thread stopped writing on, if any."""
        if self._error is not None:
            raise self._error

    def _drain(self) -> None:
        while (tables := self._queue.get()) is not self._DONE:
            if self._error is not None:
                continue
            try:
                for name, table in tables.items():
                    if table.num_rows:
                        self._writers[name].write_table(table)
                        self.rows[name] += table.num_rows
            except BaseException as exc:  # handed to the replay by put or check
                self._error = exc


class ReplayTables(dict):
    """A replay's tables by name ("bbo", and "depth"/"trades" when asked for), with what was
    counted on the way: `errors` (input problems skipped, as in summary.json) and
    `message_counts` (well-formed messages per type)."""

    def __init__(self, tables: dict, errors: ErrorLog, message_counts: dict[str, int]) -> None:
        super().__init__(tables)
        self.errors = errors
        self.message_counts = message_counts


def replay_tables(feed_path: str | os.PathLike, *, depth: int = 0, trades: bool = False,
                  printable_only: bool = False, symbols: Iterable[str] | None = None,
                  engine: str = "fast", prices: str = "int", date: str | None = None,
                  dictionary: bool = False, frames: str = "arrow", threads: int = 1) -> ReplayTables:
    """Replay `feed_path` in memory: the tables `replay` would write, as Arrow tables, or pandas
    or polars data frames with ``frames="pandas"`` / ``"polars"``.

    The options are `replay`'s (`prices`, `date`, `dictionary`: `tickaccel.schema.analysis`;
    `threads`: `tickaccel.book.shards`).
    Input problems are counted and skipped, in the result's ``errors``; a feed that cannot be
    read at all, or a bad option, raises `TickaccelError`.
    """
    if frames not in FRAME_KINDS:
        raise TickaccelError(f"unknown frames {frames!r}; use one of {', '.join(FRAME_KINDS)}")
    form = TableForm.make(prices, date, dictionary)
    feed_format(feed_path)  # raises TickaccelError on missing or unrecognised input
    check_depth(depth)
    if printable_only and not trades:
        raise TickaccelError("printable_only goes with trades: it keeps the trades that count in volume")
    book = make_book(engine, depth, trades, None if symbols is None else check_symbols(symbols), threads)
    feed_errors = ErrorLog()
    parts: dict[str, list[pa.Table]] = {name: [] for name in _schemas(depth, trades)}
    for tables, _ in _chunk_tables(feed_path, book, feed_errors, printable_only, form, CHUNK_BYTES):
        for name, table in tables.items():
            parts[name].append(table)
    errors = ErrorLog()
    errors.merge(feed_errors)
    errors.merge(book.errors)
    result = {name: pa.concat_tables(tables) if tables else form.schema(schema).empty_table()
              for (name, tables), schema in zip(parts.items(), _schemas(depth, trades).values())}
    if frames == "pandas":
        result = {name: table.to_pandas() for name, table in result.items()}
    elif frames == "polars":
        try:
            import polars
        except ImportError:
            raise BackendUnavailable("frames='polars' needs polars (pip install polars)") from None
        result = {name: polars.from_arrow(table) for name, table in result.items()}
    return ReplayTables(result, errors, book.message_counts)


def symbols_report(asked: Iterable[str], named: Iterable[str], examples: int = 5) -> dict:
    """What the summary says of a --symbols list: the symbols the feed never named (their
    rows are empty), how many it did name, and a few of those."""
    named = sorted(set(named))
    return {"asked": list(asked), "not_in_feed": sorted(set(asked) - set(named)),
            "in_feed": len(named), "examples": named[:examples]}


def _schemas(depth: int, trades: bool) -> dict[str, pa.Schema]:
    """The tables a replay writes, as the books build them."""
    schemas = {"bbo": BBO_SCHEMA}
    if depth:
        schemas["depth"] = depth_schema(depth)
    if trades:
        schemas["trades"] = TRADES_SCHEMA
    return schemas


def _chunk_tables(feed_path, book, feed_errors: ErrorLog, printable_only: bool, form: TableForm,
                  chunk_bytes: int, file_read: Callable[[int], None] | None = None
                  ) -> Iterator[tuple[dict[str, pa.Table], int]]:
    """Each chunk's tables in `form`, and the chunk's size in bytes (`open_feed` for `file_read`)."""
    for chunk in open_feed(feed_path, errors=feed_errors, chunk_bytes=chunk_bytes, file_read=file_read):
        tables = book.process(chunk)
        if printable_only:  # the trades that count in volume: no non-printable C, no B
            tables["trades"] = printable_trades(tables["trades"])
        yield {name: form.apply(table) for name, table in tables.items()}, len(chunk.data)


def replay_cpu(feed_path: str | os.PathLike, outdir: str | os.PathLike, *, depth: int = 0,
               trades: bool = False, printable_only: bool = False,
               symbols: Iterable[str] | None = None, engine: str = "fast",
               compression: str = DEFAULT_COMPRESSION, prices: str = "int", date: str | None = None,
               dictionary: bool = False, threads: int = 1, progress: Progress | None = None,
               chunk_bytes: int = CHUNK_BYTES) -> dict:
    """Replay `feed_path` into ``OUTDIR/{bbo,depth,trades}.parquet`` and ``OUTDIR/summary.json``.

    Tables are written chunk by chunk, on a writer thread while the book works on
    the next chunk, compressed with `compression` (zstd, lz4 or none); so memory
    stays bounded and rows already written survive a later failure. The summary is
    written either way: an exception while replaying or writing is counted as a
    ``replay_failed`` error (at the feed bytes read before it), named in ``failed``
    and raised as `ReplayFailed`; a KeyboardInterrupt as `ReplayInterrupted`, a
    KeyboardInterrupt too. `printable_only` keeps only the trades that count in volume
    (`tickaccel.schema.tables.printable_trades`); `prices`, `date` and `dictionary` choose
    the tables' form (`tickaccel.schema.analysis`); `threads` splits the fast book by symbol
    (`tickaccel.book.shards`). Every table carries the metadata of
    `tickaccel.schema.analysis.table_metadata`.
    """
    fmt = feed_format(feed_path)  # raises TickaccelError on missing or unrecognised input
    codec = check_compression(compression)
    form = TableForm.make(prices, date, dictionary)
    symbols = None if symbols is None else check_symbols(symbols)
    book = make_book(engine, depth, trades, symbols, threads)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    schemas = {name: form.schema(schema) for name, schema in _schemas(depth, trades).items()}
    source_sha256 = file_sha256_started(feed_path)  # for the metadata; hashed while the book works
    feed_errors = ErrorLog()
    total = os.path.getsize(feed_path)  # progress counts the file's bytes read (compressed for gzip)
    done = 0
    started = time.perf_counter()
    failure: BaseException | None = None
    writer = None
    compiling = CompileWatch()
    try:
        with compiling, contextlib.ExitStack() as writers_open:  # closes every file, even when one fails
            writers = {name: writers_open.enter_context(
                           pq.ParquetWriter(out / f"{name}.parquet", schema, compression=codec))
                       for name, schema in schemas.items()}
            writer = ParquetTablesWriter(writers)
            try:
                file_read = None if progress is None else (lambda n: progress(min(n, total), total))
                for tables, size in _chunk_tables(feed_path, book, feed_errors, printable_only, form,
                                                  chunk_bytes, file_read):
                    writer.put(tables)
                    done += size
            finally:  # the thread writes what is queued before the files close
                writer.stop()
            writer.check()
            metadata = table_metadata(form, source=feed_path, source_sha256=source_sha256(),
                                      backend="cpu", version=__version__)
            for parquet in writers.values():
                parquet.add_key_value_metadata(metadata)
    except (Exception, KeyboardInterrupt) as exc:
        failure = exc
    errors = ErrorLog()
    errors.merge(feed_errors)
    errors.merge(book.errors)
    if failure is not None:
        errors.add("replay_failed", done)
    summary = replay_summary(feed_path, fmt, engine, records=book.records,
                             message_counts=book.message_counts,
                             rows=writer.rows if writer is not None else dict.fromkeys(schemas, 0),
                             outputs={name: str(out / f"{name}.parquet") for name in schemas},
                             elapsed=time.perf_counter() - started, errors=errors, failure=failure,
                             compile_s=compiling.seconds)
    if threads > 1:
        summary["threads"] = threads
    if symbols is not None:
        summary["symbols"] = symbols_report(symbols, book.symbols.values())
    write_summary(out, summary)
    if isinstance(failure, KeyboardInterrupt):
        raise ReplayInterrupted(summary, out) from failure
    if failure is not None:
        raise ReplayFailed(summary, out) from failure
    return summary
