"""The example market maker: simulated fills only on trade-through, inventory limit, P&L report."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
from tickaccel.book.fast import FastBook
from tickaccel.errors import ErrorLog
from tickaccel.feed.source import open_feed
from tickaccel.feed.generator import generate
from tickaccel.live.wire import BBO_RECORD

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from market_maker import MarketMaker, bbo_batches


def quotes(*rows: tuple[int, int, int, int], stale: bool = False) -> np.ndarray:
    rec = np.zeros(len(rows), BBO_RECORD)
    for i, (bid, ask, bid_size, ask_size) in enumerate(rows):
        rec[i] = (i + 1, 0, bid, ask, bid_size, ask_size, 1, int(stale), b"AAPL    ")
    return rec


def test_fills_only_when_the_book_trades_through_the_quote():
    mm = MarketMaker("AAPL", half_spread=100, skew_per_lot=0, imbalance_skew=0)
    mm.on_bbo(quotes((100_000, 100_400, 500, 500)))
    assert (mm.bid_quote, mm.ask_quote) == (100_100, 100_301)
    mm.on_bbo(quotes((100_000, 100_300, 500, 500)))  # better ask, but not through our bid
    assert not mm.fills
    resting = mm.bid_quote
    mm.on_bbo(quotes((99_900, resting, 500, 500)))  # the ask reaches our bid: we bought
    assert mm.fills == [(1, "B", resting)] and mm.inventory == 100
    assert mm.cash == -100 * resting


def test_inventory_limit_stops_the_bid():
    mm = MarketMaker("AAPL", max_inventory=100, skew_per_lot=0, imbalance_skew=0)
    mm.on_bbo(quotes((100_000, 100_400, 500, 500)))
    mm.on_bbo(quotes((99_000, 99_500, 500, 500)))  # trades through the bid
    assert mm.inventory == 100 and mm.bid_quote == 0 and mm.ask_quote > 0


def test_stale_book_pulls_the_quotes():
    mm = MarketMaker("AAPL")
    mm.on_bbo(quotes((100_000, 100_400, 500, 500)))
    mm.on_bbo(quotes((100_000, 100_400, 500, 500), stale=True))
    assert mm.bid_quote == mm.ask_quote == 0


def test_runs_on_a_replayed_generated_feed(tmp_path):
    data = np.asarray(generate(60_000, 5, seed=3), np.uint8)
    path = tmp_path / "mm.itch"
    path.write_bytes(data.tobytes())
    book = FastBook()
    table = pa.concat_tables([book.process(c)["bbo"] for c in open_feed(path, errors=ErrorLog())])
    symbol = table["symbol"][table.num_rows // 2].as_py()
    mm = MarketMaker(symbol)
    for batch in bbo_batches(table):
        mm.on_bbo(batch)
    report = mm.report()
    assert report["updates"] == pa.compute.sum(
        pa.compute.equal(table["symbol"], symbol)).as_py()
    assert report["buys"] + report["sells"] == report["fills"] > 0
    assert abs(report["inventory"]) <= mm.max_inventory
    assert report["inventory"] == 100 * (report["buys"] - report["sells"])
