"""tickaccel's fast book against itch-book (C++23) on the same uncompressed BinaryFILE bytes.

By default both run in this process, best of a few repeats each, from bytes in
memory to the BBO columns. With --cli both command lines run on the same file,
whole process, feed file to BBO Parquet: ``tickaccel replay FILE -o DIR`` against
``itch2parquet convert --tables bbo`` (with --baseline, also the tickaccel of
another PYTHONPATH, e.g. an older version). Either way the two BBO tables are then
compared row for row on the columns both have (seq, timestamp, locate, bid/ask
price and size).

    python bench/compare_itchbook.py --messages 5000000 --symbols 1000 --seed 0
    python bench/compare_itchbook.py --file day.itch
    python bench/compare_itchbook.py --cli --file day.itch --repeats 5 --baseline /tmp/old_site
    python bench/compare_itchbook.py --cli --file day.itch --repeats 5 --threads 2
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
from itch_book._core import Session

from tickaccel.book.fast import FastBook
from tickaccel.feed.chunk import FeedChunk
from tickaccel.feed.generator import generate


def _itch_book(data: bytes, n_messages: int) -> tuple[float, dict[str, np.ndarray]]:
    session = Session(["bbo"], 1, [])
    session.reserve(n_messages)
    start = time.perf_counter()
    session.feed(data)
    bbo = session.take_bbo()
    return time.perf_counter() - start, bbo


def _tickaccel(buf: np.ndarray) -> tuple[float, dict[str, np.ndarray], int]:
    """BBO as an Arrow table with symbol strings (`FastBook.process`)."""
    book = FastBook(output_rows=1 << 20)
    start = time.perf_counter()
    bbo = book.process(FeedChunk(buf, 1, None, 0))["bbo"]
    elapsed = time.perf_counter() - start
    return elapsed, {name: bbo.column(name).to_numpy() for name in bbo.column_names
                     if name != "symbol"}, book.records


def _tickaccel_columns(buf: np.ndarray) -> float:
    """BBO as raw NumPy columns (`FastBook.process_columns`), like itch-book's output."""
    book = FastBook(output_rows=1 << 20)
    start = time.perf_counter()
    book.process_columns(FeedChunk(buf, 1, None, 0))
    return time.perf_counter() - start


def compare(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> str | None:
    """None when the BBO tables agree row for row, else where they first differ."""
    pairs = [("seq", "seq"), ("timestamp", "ts"), ("stock_locate", "locate"),
             ("bid_price", "bid_px"), ("bid_size", "bid_sz"), ("ask_price", "ask_px"),
             ("ask_size", "ask_sz")]
    if len(ours["seq"]) != len(theirs["seq"]):
        n = min(len(ours["seq"]), len(theirs["seq"]))
        first = np.flatnonzero(ours["seq"][:n] != theirs["seq"][:n])
        where = int(first[0]) if len(first) else n
        return (f"row counts differ: tickaccel {len(ours['seq']):,}, itch-book "
                f"{len(theirs['seq']):,}; first difference at row {where:,}")
    for mine, other in pairs:
        a = ours[mine].astype(np.int64)
        b = theirs[other].astype(np.int64)
        bad = np.flatnonzero(a != b)
        if len(bad):
            return f"column {mine} differs at row {int(bad[0]):,}: {a[bad[0]]} vs {b[bad[0]]}"
    return None


# The tickaccel CLI as its console script runs it; by `python -c` so that PYTHONPATH picks the version.
TICKACCEL_ENTRY = "import sys; from tickaccel.cli import main; sys.exit(main(sys.argv[1:]))"
# itch2parquet stamps timestamps with the session date (file name or --date) in New York time.
SESSION_DATE = "2020-01-01"
SESSION_ZONE = ZoneInfo("America/New_York")
NS = 1_000_000_000
KIB = 1024


def _run_timed(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one whole process; raises if it fails."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr.decode()}")
    return elapsed, usage.ru_maxrss  # KiB on Linux


def _itch2parquet() -> str:
    """The itch2parquet script of this Python's environment, else the one on PATH."""
    beside = Path(sys.executable).parent / "itch2parquet"
    found = str(beside) if beside.exists() else shutil.which("itch2parquet")
    if found is None:
        raise SystemExit("itch2parquet not found: pip install itch-book (tickaccel's 'test' extra)")
    return found


def _itch2parquet_bbo(path: Path) -> dict[str, np.ndarray]:
    """itch2parquet's BBO table as the columns of itch-book's Session, timestamps from midnight."""
    table = pq.read_table(path)
    midnight = int(datetime.fromisoformat(SESSION_DATE).replace(tzinfo=SESSION_ZONE).timestamp()) * NS
    columns = {name: table.column(name).to_numpy() for name in
               ("seq", "locate", "bid_px", "bid_sz", "ask_px", "ask_sz")}
    columns["ts"] = pc.cast(table.column("ts_event"), "int64").to_numpy() - midnight
    return columns


def compare_cli(feed: str, repeats: int, baseline: str | None, threads: int = 1) -> None:
    """Time both command lines on `feed`, alternating, and compare their BBO tables."""
    work = Path(tempfile.mkdtemp(prefix="compare_itchbook_"))
    try:
        # Each repetition replaces the last one's tables.
        contenders = {"tickaccel replay": ([sys.executable, "-c", TICKACCEL_ENTRY, "replay", feed, "-o",
                                            str(work / "tickaccel"), "--overwrite"], dict(os.environ))}
        if threads > 1:
            contenders[f"tickaccel replay --threads {threads}"] = (
                [sys.executable, "-c", TICKACCEL_ENTRY, "replay", feed, "-o", str(work / "threads"),
                 "--overwrite", "--threads", str(threads)], dict(os.environ))
        if baseline is not None:
            contenders["tickaccel replay (baseline)"] = (
                [sys.executable, "-c", TICKACCEL_ENTRY, "replay", feed, "-o", str(work / "baseline"),
                 "--overwrite"], {**os.environ, "PYTHONPATH": baseline})
        # Fixed-point prices, as tickaccel writes them; no MD5 of the input, which tickaccel does not take.
        contenders["itch2parquet convert"] = (
            [_itch2parquet(), "convert", "--tables", "bbo", "--price-type", "fixed", "--no-md5",
             "--date", SESSION_DATE, feed, str(work / "itch2parquet")], dict(os.environ))
        for name, (command, env) in contenders.items():  # warm: Numba cache, page cache
            _run_timed(command, env)
            where = f"  (PYTHONPATH={baseline})" if "baseline" in name else ""
            print(f"{name}: {shlex.join(command)}{where}")
        walls: dict[str, list[float]] = {name: [] for name in contenders}
        peak_kib = dict.fromkeys(contenders, 0)
        for _ in range(repeats):
            for name, (command, env) in contenders.items():  # alternate: machine load hits all alike
                elapsed, rss = _run_timed(command, env)
                walls[name].append(elapsed)
                peak_kib[name] = max(peak_kib[name], rss)
        messages = json.loads((work / "tickaccel" / "summary.json").read_text())["messages"]
        print(f"input: {messages:,} messages, {os.path.getsize(feed) / 1e6:.1f} MB; "
              f"{repeats} runs each, wall time of the whole process")
        for name, times in walls.items():
            print(f"{name:<28}: min {min(times):6.3f} s ({messages / min(times) / 1e6:5.2f} M msg/s), "
                  f"median {statistics.median(times):6.3f} s "
                  f"({messages / statistics.median(times) / 1e6:5.2f} M msg/s), "
                  f"peak RSS {peak_kib[name] / KIB:,.0f} MiB")
        theirs = walls["itch2parquet convert"]
        for name in contenders:
            if name.startswith("tickaccel"):
                print(f"ratio {name} / itch2parquet (msg/s): min {min(theirs) / min(walls[name]):.2f}, "
                      f"median {statistics.median(theirs) / statistics.median(walls[name]):.2f}")
        ours = pq.read_table(work / "tickaccel" / "bbo.parquet")
        difference = compare({name: ours.column(name).to_numpy() for name in ours.column_names
                              if name != "symbol"}, _itch2parquet_bbo(work / "itch2parquet" / "bbo.parquet"))
        print("BBO tables: identical row for row" if difference is None
              else f"BBO tables DIFFER: {difference}")
    finally:
        shutil.rmtree(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5_000_000)
    parser.add_argument("--symbols", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--file", help="an uncompressed BinaryFILE to use instead of generating")
    parser.add_argument("--cli", action="store_true",
                        help="time the two command lines, whole process, feed file to BBO Parquet")
    parser.add_argument("--threads", type=int, default=1,
                        help="with --cli, also time tickaccel replay --threads N")
    parser.add_argument("--baseline", metavar="PYTHONPATH",
                        help="with --cli, also time the tickaccel found on this PYTHONPATH")
    args = parser.parse_args()
    if args.file:
        buf = np.fromfile(args.file, np.uint8)
    else:
        buf = generate(args.messages, n_symbols=args.symbols, seed=args.seed)
    if args.cli:
        if args.file:
            compare_cli(args.file, args.repeats, args.baseline, args.threads)
            return
        with tempfile.TemporaryDirectory() as folder:
            feed = Path(folder) / "generated.itch"
            buf.tofile(feed)
            compare_cli(str(feed), args.repeats, args.baseline, args.threads)
        return
    data = buf.tobytes()
    _tickaccel(buf[:100_000].copy())  # compile (or load the cache) outside the timing
    ours_best = columns_best = theirs_best = float("inf")
    for _ in range(args.repeats):
        # Alternate the engines so that machine load hits them alike.
        elapsed, ours, n_records = _tickaccel(buf)
        ours_best = min(ours_best, elapsed)
        columns_best = min(columns_best, _tickaccel_columns(buf))
        elapsed, theirs = _itch_book(data, n_records)
        theirs_best = min(theirs_best, elapsed)
    print(f"input: {n_records:,} messages, {len(buf) / 1e6:.1f} MB")
    print(f"tickaccel FastBook : {n_records / ours_best / 1e6:6.2f} M msg/s "
          f"({ours_best:.3f} s, {len(ours['seq']):,} BBO rows)")
    print(f"  .process_columns : {n_records / columns_best / 1e6:6.2f} M msg/s "
          f"({columns_best:.3f} s, raw columns, no symbol strings)")
    print(f"itch-book Session  : {n_records / theirs_best / 1e6:6.2f} M msg/s "
          f"({theirs_best:.3f} s, {len(theirs['seq']):,} BBO rows)")
    print(f"ratio tickaccel / itch-book: {theirs_best / ours_best:.2f} "
          f"(process_columns: {theirs_best / columns_best:.2f})")
    difference = compare(ours, theirs)
    print("BBO tables: identical row for row" if difference is None
          else f"BBO tables DIFFER: {difference}")


if __name__ == "__main__":
    main()
