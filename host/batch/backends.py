"""`replay`: the one entry point of batch replay, and the backends behind it.

A backend is a function ``replay_<name>(feed, outdir, *, progress=None, **options)`` in a
module of its own (`tickaccel.batch.cpu`, `.sim`, `.fpga`, `.cluster`) that writes
``OUTDIR/bbo.parquet`` (and what else it can) and returns the summary it writes to
``OUTDIR/summary.json`` (`tickaccel.batch.summary`). `BACKENDS` names each with the
options it takes, so `replay` refuses any other one with one clear error before a
book, a simulation or a board is started; every feed and output folder is checked then
too. Whatever fails after that, on any backend, still leaves ``summary.json`` saying
what failed (`tickaccel.batch.summary.ReplayFailed`).
"""
from __future__ import annotations

import importlib
import inspect
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tickaccel.batch.summary import (UNKNOWN_POSITION, ReplayFailed, ReplayInterrupted, replay_summary,
                                     write_summary)
from tickaccel.book.oracle import check_depth
from tickaccel.book.shards import MAX_SHARDS
from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.feed.source import feed_format
from tickaccel.hw.params import BookParams
from tickaccel.schema.analysis import TableForm

if TYPE_CHECKING:  # the fpga driver is imported only by the fpga backend
    from tickaccel.fpga.driver import FeedToBook

ENGINES = ("fast", "oracle")
# The options that say what is written; a backend without one refuses them all in one message.
OUTPUT_OPTIONS = ("engine", "depth", "trades", "printable_only", "symbols", "prices", "date", "dictionary")

# The files a replay (and `--signals` after it) may write into an output folder.
OUTPUT_FILES = ("bbo.parquet", "depth.parquet", "trades.parquet", "signals.parquet", "summary.json")
SYMBOL_LENGTH = 8  # ITCH stock symbols: at most 8 ASCII characters
# How the cpu and cluster backends compress their Parquet tables (pyarrow's codec names).
COMPRESSIONS = ("zstd", "lz4", "none")
DEFAULT_COMPRESSION = "zstd"

# progress(done, total or None when unknown): bytes read on cpu and cluster, frames sent on sim and fpga
Progress = Callable[[int, "int | None"], None]


@dataclass(frozen=True)
class ReplayBackend:
    """A batch replay backend: its function, the options of `replay` it takes, how it is asked for."""

    name: str
    function: str  # "module:function", imported when used: sim needs cocotb, cluster Ray, fpga a board
    options: frozenset[str]
    switch: str  # the command-line option that chooses it
    refusal: str = ""  # the error for an output option it cannot honour

    def run(self, feed, outdir: str | os.PathLike, **options) -> dict:
        module, _, function = self.function.partition(":")
        return getattr(importlib.import_module(module), function)(feed, outdir, **options)


BACKENDS: dict[str, ReplayBackend] = {b.name: b for b in (
    ReplayBackend("cpu", "tickaccel.batch.cpu:replay_cpu",
                  frozenset({*OUTPUT_OPTIONS, "compression", "threads"}),
                  "--backend cpu"),
    ReplayBackend("sim", "tickaccel.batch.sim:replay_sim", frozenset({"depth", "simulator", "params"}),
                  "--backend sim", "--backend sim writes the whole bbo.parquet (and depth.parquet "
                                   "with --depth) as the book builds them: drop --trades, --symbols, "
                                   "--engine, --prices, --date and --dictionary"),
    ReplayBackend("fpga", "tickaccel.batch.fpga:replay_fpga", frozenset({"bitstream", "device"}),
                  "--backend fpga", "--backend fpga writes the whole bbo.parquet only, as the book "
                                    "builds it: drop --depth, --trades, --symbols, --engine, "
                                    "--prices, --date and --dictionary"),
    ReplayBackend("cluster", "tickaccel.batch.cluster:replay_cluster",
                  frozenset({"depth", "trades", "printable_only", "symbols", "prices", "date",
                             "dictionary", "compression", "cluster", "workers"}),
                  "--cluster", "--cluster runs the fast cpu book; drop --backend and --engine"),
)}


def replay(feed: str | os.PathLike | Sequence[str | os.PathLike], outdir: str | os.PathLike, *,
           backend: str = "cpu", engine: str = "fast", depth: int = 0, trades: bool = False,
           printable_only: bool = False,
           symbols: Sequence[str] | None = None, compression: str = DEFAULT_COMPRESSION,
           prices: str = "int", date: str | None = None, dictionary: bool = False,
           overwrite: bool = False, simulator: str | None = None,
           params: BookParams | None = None, bitstream: str | os.PathLike | None = None,
           device: FeedToBook | None = None, cluster: str | None = None, workers: int | None = None,
           threads: int = 1, progress: Progress | None = None) -> dict:
    """Replay `feed` into ``OUTDIR/{bbo,depth,trades}.parquet`` and ``OUTDIR/summary.json``; returns the summary.

    backend: ``cpu`` (the `engine` book, ``fast`` or ``oracle``, here), ``sim`` (feed_to_book
    under cocotb with `simulator`, sized by `params`), ``fpga`` (feed_to_book on the PYNQ
    board with `bitstream`, or on `device`, an open `tickaccel.fpga.FeedToBook`) or
    ``cluster`` (the fast book on Ray at `cluster`, ``local`` by default, with `workers`,
    sharded by file and symbol; `cluster` given with the cpu backend means this too).
    threads: the cpu backend's fast book split by symbol over this many threads
    (`tickaccel.book.shards`); the same tables as one.
    depth: also write the top `depth` levels (0 to `tickaccel.book.oracle.MAX_DEPTH`);
    trades: also write E, C, P, Q and B (`tickaccel.schema.tables`); printable_only: of
    those, only the trades that count in volume (with `trades`); symbols: only rows of
    these; compression: of the Parquet tables, one of `COMPRESSIONS` (cpu and cluster;
    sim and fpga write zstd); prices ("int" or "float" dollars), date (the trading date,
    YYYY-MM-DD: adds a timezone-aware ``time`` column) and dictionary (dictionary-encoded
    symbols): the tables' form, `tickaccel.schema.analysis` (cpu and cluster); overwrite:
    replace the files of an earlier replay in `outdir` (without it such a folder is refused,
    so no table of an earlier run is left beside this one's). The cluster also takes a list of feeds, each written into
    ``OUTDIR/<file name>/``.

    Every option, feed and output folder is checked before any work starts: raises
    `TickaccelError` for one that is unusable, `BackendUnavailable` when what the backend
    needs is missing. Any other exception while replaying a usable feed leaves
    ``OUTDIR/summary.json`` with what was done and a ``failed`` entry, and is raised as
    `ReplayFailed` (a KeyboardInterrupt as `ReplayInterrupted`, a KeyboardInterrupt too).
    """
    if engine not in ENGINES:
        raise TickaccelError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    if backend not in BACKENDS:
        raise TickaccelError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    check_compression(compression)
    TableForm.make(prices, date, dictionary)  # refuses an unknown price form or a bad date now
    if cluster is not None:
        if backend not in ("cpu", "cluster"):
            raise TickaccelError(BACKENDS["cluster"].refusal)
        backend = "cluster"
    chosen = BACKENDS[backend]
    given = {name: value for name, value in (
        ("engine", engine), ("depth", depth), ("trades", trades), ("symbols", symbols),
        ("printable_only", printable_only), ("prices", prices), ("date", date),
        ("dictionary", dictionary), ("compression", compression), ("simulator", simulator), ("params", params),
        ("bitstream", bitstream), ("device", device),
        ("cluster", cluster), ("workers", workers), ("threads", threads)) if value != _DEFAULTS[name]}
    refused = [name for name in given if name not in chosen.options]
    if any(name in OUTPUT_OPTIONS for name in refused):
        raise TickaccelError(chosen.refusal)
    if refused:
        owner = next(b for b in BACKENDS.values() if refused[0] in b.options)
        raise TickaccelError(f"--{refused[0]} goes with {owner.switch}, not {chosen.switch}")
    if printable_only and not trades:
        raise TickaccelError("--printable-only goes with --trades: it keeps the trades that count in volume")
    if chosen.name != "cluster" and not isinstance(feed, (str, os.PathLike)):
        raise TickaccelError(f"backend {chosen.name!r} replays one feed at a time; the cluster takes several")
    check_depth(depth)
    check_threads(threads, engine)
    if symbols is not None:
        given["symbols"] = check_symbols(symbols)
    feeds = [feed] if isinstance(feed, (str, os.PathLike)) else list(feed)
    check_replay_paths(feeds, outdir, overwrite)
    started = time.perf_counter()
    try:
        return chosen.run(feed, outdir, progress=progress, **given)
    except (TickaccelError, ReplayInterrupted):  # unusable input, missing backend, or summary written
        raise
    except (Exception, KeyboardInterrupt) as exc:
        # A backend that kept counts wrote its summary and raised ReplayFailed; any other
        # leaves one that says what failed, so every backend ends with a summary.json.
        fmt = feed_format(feeds[0]) if len(feeds) == 1 else ""
        errors = ErrorLog()
        errors.add("replay_failed", UNKNOWN_POSITION)
        summary = replay_summary(", ".join(os.fspath(f) for f in feeds), fmt, chosen.name,
                                 message_counts={}, rows={}, outputs={},
                                 elapsed=time.perf_counter() - started, errors=errors, failure=exc)
        write_summary(Path(outdir), summary)
        if isinstance(exc, KeyboardInterrupt):
            raise ReplayInterrupted(summary, outdir) from exc
        raise ReplayFailed(summary, outdir) from exc


_DEFAULTS = {name: p.default for name, p in inspect.signature(replay).parameters.items()
             if p.kind is inspect.Parameter.KEYWORD_ONLY and name != "overwrite"}


def check_threads(threads: int, engine: str = "fast") -> int:
    """`threads` when the `engine` book can run on that many (1, or 2 to `MAX_SHARDS` for the
    fast book); raises `TickaccelError` saying what can otherwise."""
    if threads == 1:
        return threads
    if engine != "fast":
        raise TickaccelError("--threads splits the fast book: drop it with --engine oracle")
    if not 1 <= threads <= MAX_SHARDS:
        raise TickaccelError(f"--threads must be 1 to {MAX_SHARDS}, got {threads}")
    return threads


def check_symbols(symbols: Sequence[str]) -> list[str]:
    """`symbols` without blanks and repeats, sorted; raises `TickaccelError` for one that no
    ITCH feed can carry (not printable ASCII, or over `SYMBOL_LENGTH` characters) or none at all."""
    names = sorted({s.strip() for s in symbols if s.strip()})
    bad = [s for s in names if not (s.isascii() and s.isprintable()) or len(s) > SYMBOL_LENGTH]
    if bad:
        raise TickaccelError(f"ITCH symbols are 1 to {SYMBOL_LENGTH} ASCII characters: "
                             f"{', '.join(ascii(s) for s in bad)}")
    if not names:
        raise TickaccelError("--symbols needs at least one symbol, e.g. --symbols AAPL,MSFT")
    return names


def check_compression(compression: str) -> str:
    """`compression` when it is one of `COMPRESSIONS`; raises `TickaccelError` naming them otherwise."""
    if compression not in COMPRESSIONS:
        raise TickaccelError(f"unknown compression {compression!r}; use one of {', '.join(COMPRESSIONS)}")
    return compression


def check_replay_paths(feeds: Sequence[str | os.PathLike], outdir: str | os.PathLike,
                       overwrite: bool = False) -> list[Path]:
    """Check every feed and make every output folder before any replay starts; returns the folders.

    Raises `TickaccelError` naming the first feed that is not a readable feed file
    (`feed_format`), the first output folder that cannot be made or written, with the
    reason, or one that holds an earlier replay's files (`OUTPUT_FILES`) unless
    `overwrite`, which removes them; so a mistake in the last argument costs no replay of
    the first, and no stale table is left beside new ones.
    """
    for feed in feeds:
        feed_format(feed)
    targets = feed_outdirs(outdir, feeds)
    folders = (*targets, Path(outdir)) if len(targets) > 1 else tuple(targets)
    earlier = [path for out in folders for path in _replay_files(out)]
    if earlier and not overwrite:
        names = ", ".join(str(p) for p in earlier[:3]) + (", ..." if len(earlier) > 3 else "")
        raise TickaccelError(f"{outdir} already holds a replay ({names}): pass --overwrite "
                             "(overwrite=True) to replace it, or choose another folder")
    for out in folders:
        _make_outdir(out)
    for path in earlier:
        try:
            path.unlink()
        except OSError as exc:
            raise TickaccelError(f"cannot remove {path} of an earlier replay ({exc.strerror})") from None
    return targets


def _replay_files(out: Path) -> list[Path]:
    """The files of an earlier replay in `out` (a file where the folder should be has none)."""
    if not out.is_dir():
        return []
    return [out / name for name in OUTPUT_FILES if (out / name).is_file()]


def _make_outdir(out: Path) -> None:
    """Create `out` (and its parents) and make sure the replay can write its files there."""
    if out.exists() and not out.is_dir():
        raise TickaccelError(f"the output folder exists as a file: {out}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TickaccelError(f"cannot make the output folder {out} ({exc.strerror})") from None
    try:
        with tempfile.TemporaryFile(dir=out):  # the one check that holds for root and read-only mounts
            pass
    except OSError as exc:
        raise TickaccelError(f"output folder not writable: {out} ({exc.strerror})") from None
    for name in OUTPUT_FILES:
        path = out / name
        if path.is_dir():
            raise TickaccelError(f"{path} is a folder; the replay writes a file there")


def feed_outdirs(outdir: str | os.PathLike, feeds: Sequence[str | os.PathLike]) -> list[Path]:
    """Where each feed's tables go: one feed straight into `outdir`, several each into a folder named after the file.

    Raises `TickaccelError` when two feeds would share a folder.
    """
    if len(feeds) == 1:
        return [Path(outdir)]
    targets = [Path(outdir) / Path(feed).name.split(".")[0] for feed in feeds]
    if len(set(targets)) < len(targets):
        raise TickaccelError("several feeds share a file name; give each its own name")
    return targets
