"""The summary a batch replay returns and writes beside its tables, built the same way on every backend.

Every backend's summary starts with the same fields (input, format, engine, message
counts, rows and files written, time, errors); a backend adds its own after them: the
RTL backends their stale symbols and counters, the DMA backend its transfer counts.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.schema import itch

UNKNOWN_POSITION = -1  # the first position of errors counted where no position is kept
# The book's error counters that count what the software books report as errors of the same name.
RTL_ERROR_COUNTERS = ("unknown_order_ref", "duplicate_order_ref", "overfill", "zero_share_add",
                      "order_store_full", "level_store_full", "locate_out_of_range")


class ReplayFailed(TickaccelError):
    """A replay of a usable feed stopped on an exception; `summary` (written to ``OUTDIR/summary.json``)
    holds every count and row written before it, and its ``failed`` entry names the exception."""

    exit_code = 1  # the CLI's exit status: not 2, the input was usable

    def __init__(self, summary: dict, outdir: str | os.PathLike) -> None:
        super().__init__(f"replay of {summary['input']} failed after {summary['messages']:,} messages: "
                         f"{summary['failed']}; what was written is in {Path(outdir) / 'summary.json'}")
        self.summary = summary


class ReplayInterrupted(KeyboardInterrupt):
    """Ctrl-C during a replay, still a KeyboardInterrupt; `summary` (written to ``OUTDIR/summary.json``)
    holds every count and row written before it."""

    def __init__(self, summary: dict, outdir: str | os.PathLike) -> None:
        super().__init__(f"replay of {summary['input']} interrupted after {summary['messages']:,} "
                         f"messages; what was written is in {Path(outdir) / 'summary.json'}")
        self.summary = summary


def replay_summary(feed_path: str | os.PathLike, fmt: str, engine: str, *,
                   message_counts: dict[str, int], rows: dict[str, int], outputs: dict[str, str],
                   elapsed: float, errors: ErrorLog, records: int | None = None,
                   failure: BaseException | None = None, compile_s: float = 0.0,
                   **extra: object) -> dict:
    """The summary of one feed's replay; `records` when the backend counts them, `extra` after the common fields.

    `compile_s` is the part of `elapsed` spent compiling Numba kernels (a first run on a
    machine, `tickaccel.jit.CompileWatch`): ``messages_per_s`` leaves it out.
    """
    messages = sum(message_counts.values())
    summary: dict = {"input": os.fspath(feed_path), "format": fmt, "engine": engine}
    if records is not None:
        summary["records"] = records
    summary.update({
        "messages": messages,
        "message_counts": dict(sorted(message_counts.items())),
        "rows": rows,
        "outputs": outputs,
        "elapsed_s": round(elapsed, 6),
        "compile_s": round(compile_s, 3),
        "messages_per_s": round(messages / (elapsed - compile_s), 1) if elapsed > compile_s else None,
        "errors": errors.to_dict(),
        **extra,
    })
    if failure is not None:
        name = type(failure).__name__
        summary["failed"] = f"{name}: {failure}" if str(failure) else name
    return summary


def rtl_summary(feed_path: str | os.PathLike, fmt: str, engine: str, *, counters: dict[str, dict[str, int]],
                stale: dict[int, dict[str, int]], rows: dict[str, int], outputs: dict[str, str],
                elapsed: float, errors: ErrorLog, **extra: object) -> dict:
    """The summary of a replay through feed_to_book, whose counters say what the software books count.

    Message counts come from the feed handler's per-type counters and the book's
    errors from its error counters (without positions: the RTL keeps none), added to
    `errors`; `stale` is the decoder's report of the symbols whose rows were left out.
    """
    for kind in RTL_ERROR_COUNTERS:
        errors.add(kind, UNKNOWN_POSITION, counters["book"][kind])
    message_counts = {mtype: counters["feed"][f"msgs_{name}"]
                      for mtype, (name, _) in itch.MESSAGES.items() if counters["feed"][f"msgs_{name}"]}
    return replay_summary(feed_path, fmt, engine, message_counts=message_counts, rows=rows,
                          outputs=outputs, elapsed=elapsed, errors=errors,
                          stale_symbols={str(k): v for k, v in sorted(stale.items())}, **extra)


def write_tables(outdir: Path, tables: dict[str, pa.Table]) -> tuple[dict[str, int], dict[str, str]]:
    """Write each table to ``OUTDIR/<name>.parquet``; returns the rows and the path of each."""
    for name, table in tables.items():
        pq.write_table(table, outdir / f"{name}.parquet", compression="zstd")
    return ({name: table.num_rows for name, table in tables.items()},
            {name: str(outdir / f"{name}.parquet") for name in tables})


def write_summary(outdir: Path, summary: dict) -> None:
    """``OUTDIR/summary.json``, the summary as the replay returned it."""
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
