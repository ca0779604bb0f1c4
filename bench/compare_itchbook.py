"""tickaccel's fast book against itch-book (C++23) on the same uncompressed BinaryFILE bytes.

Both run in this process, best of a few repeats each, from bytes in memory
to the BBO columns; then the two BBO tables are compared row for row on the
columns both have (seq, timestamp, locate, bid/ask price and size).

    python bench/compare_itchbook.py --messages 5000000 --symbols 1000 --seed 0
    python bench/compare_itchbook.py --file day.itch
"""
from __future__ import annotations

import argparse
import time

import numpy as np
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5_000_000)
    parser.add_argument("--symbols", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--file", help="an uncompressed BinaryFILE to use instead of generating")
    args = parser.parse_args()
    if args.file:
        buf = np.fromfile(args.file, np.uint8)
    else:
        buf = generate(args.messages, n_symbols=args.symbols, seed=args.seed)
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
