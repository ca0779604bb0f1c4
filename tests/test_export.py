"""`tickaccel export`: LOBSTER and hftbacktest files of one symbol equal the oracle, message by message."""
from __future__ import annotations

import copy
import json
import os
import random
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pyarrow.csv as pa_csv
import pytest

from feeds import binaryfile, directory, faulty_capture, mutate, random_messages, record
import tickaccel.batch.export as export
from tickaccel.book.oracle import OracleBook, iter_messages
from tickaccel.cli import main
from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.feed.binaryfile import record_offsets
from tickaccel.feed.chunk import FeedChunk
from tickaccel.feed.generator import generate
from tickaccel.feed.source import open_feed
from tickaccel.schema import itch
from tickaccel.schema.analysis import midnight_epoch_ns

ROOT = Path(__file__).resolve().parent.parent
SYMBOL = "MSFT"  # locate 2 of the random feeds
DATE = "2026-03-02"


def with_trading_actions(messages: list[tuple], every: int = 500) -> list[tuple]:
    """`messages` with the symbol halted, quoting and trading again now and then (H messages)."""
    out = []
    states = "HQTP"
    for i, msg in enumerate(messages):
        out.append(msg)
        if i and i % every == 0:
            out.append(itch.make("H", stock_locate=2, timestamp=getattr(msg, "timestamp", 0),
                                 stock=SYMBOL, trading_state=states[(i // every) % 4]))
    return out


def single_records(chunk: FeedChunk):
    """Each record of `chunk` as a chunk of its own (the last may be truncated)."""
    offsets = [int(o) for o in record_offsets(chunk.data)] + [len(chunk.data)]
    for i, (start, end) in enumerate(zip(offsets, offsets[1:])):
        yield FeedChunk(chunk.data[start:end], chunk.first_seq + i,
                        None if chunk.seqs is None else chunk.seqs[i:i + 1],
                        chunk.base_offset + start if chunk.base_offset >= 0 else -1)


def oracle_book_row(oracle: OracleBook, loc: int, levels: int) -> list[int]:
    row = []
    asks, bids = oracle.top(loc, "S", levels), oracle.top(loc, "B", levels)
    for r in range(levels):
        row += [asks[r][0], asks[r][1]] if r < len(asks) else [export.EMPTY_ASK_PRICE, 0]
        row += [bids[r][0], bids[r][1]] if r < len(bids) else [export.EMPTY_BID_PRICE, 0]
    return row


def oracle_events(feed: Path, symbol: str, levels: int):
    """The symbol's LOBSTER rows (time ns, type, id, size, price, direction, left, order price)
    and the orderbook row after each, stepping the oracle one record at a time; its errors."""
    oracle, feed_errors = OracleBook(), ErrorLog()
    rows, books = [], []

    def put(msg, seq, event, order_id, size, price, direction, loc, left=0, order_price=0, book=None):
        rows.append((seq, msg.timestamp, event, order_id, size, price, direction, left, order_price))
        books.append(book if book is not None else oracle_book_row(oracle, loc, levels))

    for chunk in open_feed(feed, errors=feed_errors, chunk_bytes=1 << 12):
        for one in single_records(chunk):
            found = list(iter_messages(one, ErrorLog()))
            if not found:
                oracle.process(one)
                continue
            seq, _, raw = found[0]
            msg = itch.decode_message(raw)
            t = msg.type
            ref = msg.original_order_ref if t == "U" else getattr(msg, "order_ref", None)
            before = list(oracle.orders[ref]) if t in "ECXDU" and ref in oracle.orders else None
            between = None
            if t == "U" and before is not None:
                without = copy.deepcopy(oracle)
                without.process(FeedChunk(np.frombuffer(record(itch.make(
                    "D", stock_locate=before[0], order_ref=ref)), np.uint8), 0, None, 0))
                between = oracle_book_row(without, before[0], levels)
            was_live = t in "AF" and msg.order_ref in oracle.orders
            oracle.process(one)
            loc = before[0] if before is not None else msg.stock_locate
            if oracle.symbols.get(loc) != symbol:
                continue
            if t in "AF" and not was_live and msg.order_ref in oracle.orders:
                put(msg, seq, 1, msg.order_ref, msg.shares, msg.price, 1 if msg.side == "B" else -1,
                    loc, msg.shares, msg.price)
            elif before is not None:
                direction = 1 if before[1] == "B" else -1
                if t in "ECX":
                    take = min(msg.executed_shares if t != "X" else msg.cancelled_shares, before[3])
                    price = msg.execution_price if t == "C" else before[2]
                    put(msg, seq, 2 if t == "X" else 4, ref, take, price, direction, loc,
                        before[3] - take, before[2])
                else:
                    put(msg, seq, 3, ref, before[3], before[2], direction, loc, 0, before[2], between)
                    if t == "U" and msg.new_order_ref in oracle.orders:
                        put(msg, seq, 1, msg.new_order_ref, msg.shares, msg.price, direction, loc,
                            msg.shares, msg.price)
            elif t == "P":
                put(msg, seq, 5, msg.order_ref, msg.shares, msg.price, 1 if msg.side == "B" else -1, loc)
            elif t == "Q":
                put(msg, seq, 6, export.CROSS_ORDER_IDS.get(msg.cross_type, 0), msg.shares,
                    msg.cross_price, 0, loc)
            elif t == "H":
                put(msg, seq, 7, 0, 0, export.TRADING_STATE_PRICES.get(msg.trading_state, 0), -1, loc)
    errors = ErrorLog()
    errors.merge(feed_errors)
    errors.merge(oracle.errors)
    return rows, books, errors, oracle


def exported_rows(events: np.ndarray) -> list[tuple]:
    return [tuple(int(x) for x in r) for r in zip(
        events["seq"], events["timestamp"], events["event"], events["order_id"], events["size"],
        events["price"], events["direction"], events["shares_left"], events["order_price"])]


def assert_events_match(feed: Path, levels: int = 3, every_type: bool = True) -> list[tuple]:
    expected, books, errors, _ = oracle_events(feed, SYMBOL, levels)
    found = export.symbol_events(feed, SYMBOL, levels=levels, chunk_bytes=1 << 12)
    assert exported_rows(found.events) == expected
    assert found.book.tolist() == books
    assert found.errors.counts == errors.counts
    if every_type:
        assert {row[2] for row in expected} >= {1, 2, 3, 4, 5, 6, 7}
    return expected


@pytest.fixture(scope="module")
def random_feed(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("export") / "random.itch"
    path.write_bytes(binaryfile(with_trading_actions(random_messages(5, 6000, faults=True))))
    return path


def test_events_equal_the_oracle_on_damaged_random_messages(random_feed):
    assert_events_match(random_feed)


def test_events_equal_the_oracle_on_a_lossy_capture(tmp_path):
    data = binaryfile(with_trading_actions(random_messages(11, 6000, faults=True)))
    faulty_capture(tmp_path / "lossy.pcap", data, seed=3, max_payload=300, rate=0.08)
    assert_events_match(tmp_path / "lossy.pcap", levels=2)
    counts = export.symbol_events(tmp_path / "lossy.pcap", SYMBOL).errors.counts
    assert counts["sequence_gap"] and counts["duplicate"] and counts["non_udp_frame"]


def test_events_equal_the_oracle_on_a_mutated_file(tmp_path):
    data = binaryfile(with_trading_actions(random_messages(17, 6000, faults=True)))
    head = len(binaryfile(directory(3)))  # keep the R messages, damage the rest
    damaged, rng = data[head:], random.Random(4)
    for _ in range(6):
        damaged, _, _ = mutate(damaged, rng)
    (tmp_path / "mutated.itch").write_bytes(data[:head] + damaged)
    expected, books, errors, _ = oracle_events(tmp_path / "mutated.itch", SYMBOL, 4)
    found = export.symbol_events(tmp_path / "mutated.itch", SYMBOL, levels=4)
    assert exported_rows(found.events) == expected
    assert found.book.tolist() == books
    assert found.errors.counts == errors.counts
    assert found.errors.counts["bytes_skipped"]  # the reader resynchronised past the damage


def test_orders_placed_before_the_symbol_is_named_are_its_own_from_then_on(tmp_path):
    messages = random_messages(23, 3000, faults=True)
    named_late = messages[3:400] + messages[:3] + messages[400:]  # the R messages after 397 ops
    (tmp_path / "late.itch").write_bytes(binaryfile(named_late))
    expected = assert_events_match(tmp_path / "late.itch", levels=2, every_type=False)
    added = {row[3] for row in expected if row[2] == export.ADD}
    assert any(row[3] not in added for row in expected
               if row[2] in (export.CANCEL, export.DELETE, export.EXECUTE))


def test_lobster_files(random_feed, tmp_path):
    expected, books, _, _ = oracle_events(random_feed, SYMBOL, 5)
    result = export.export_lobster(random_feed, SYMBOL, tmp_path, date=DATE, levels=5,
                                   start="00:00:00.000010", end="00:00:00.000030")
    stem = f"{SYMBOL}_{DATE}_0_0"
    assert [p.name for p in result.paths] == [f"{stem}_message_5.csv", f"{stem}_orderbook_5.csv"]
    window = [i for i, row in enumerate(expected) if 10_000 <= row[1] <= 30_000]
    assert result.rows == len(window) > 100
    no_header = pa_csv.ReadOptions(autogenerate_column_names=True)
    text = result.paths[0].read_text().splitlines()
    messages = pa_csv.read_csv(result.paths[0], no_header).to_pylist()
    orderbook = pa_csv.read_csv(result.paths[1], no_header).to_pylist()
    for line, message, book, i in zip(text, messages, orderbook, window):
        seq, ns, event, order_id, size, price, direction, *_ = expected[i]
        seconds, fraction = line.split(",")[0].split(".")
        assert int(seconds) * 10**9 + int(fraction) == ns and len(fraction) == 9
        assert list(message.values())[1:] == [event, order_id, size, price, direction]
        assert list(book.values()) == books[i]


def test_cli_and_errors(random_feed, tmp_path, capsys):
    assert main(["export", "lobster", str(random_feed), "-s", SYMBOL, "-o", str(tmp_path),
                 "--date", DATE, "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert f"{SYMBOL}_{DATE}_0_86400000_message_2.csv" in out and "duplicate_order_ref" in out
    assert main(["export", "hftbacktest", str(random_feed), "-s", SYMBOL, "-o",
                 str(tmp_path / "msft.npz"), "--date", DATE, "--latency-ns", "100"]) == 0
    assert "msft.npz" in capsys.readouterr().out
    events = np.load(tmp_path / "msft.npz")["data"]
    assert np.all(events["local_ts"] - events["exch_ts"] == 100)
    assert main(["export", "lobster", str(random_feed), "-s", "NOPE", "-o", str(tmp_path),
                 "--date", DATE]) == 2
    err = capsys.readouterr().err
    assert "no symbol 'NOPE'" in err and "AAPL, MSFT, SPY" in err
    assert main(["export", "lobster", str(random_feed), "-s", SYMBOL, "-o", str(tmp_path),
                 "--date", "03/02/2026"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
    with pytest.raises(TickaccelError, match="before --from"):
        export.export_lobster(random_feed, SYMBOL, tmp_path, date=DATE, start="10:00", end="09:00")


# ---- hftbacktest ----

def replay_l3(events: np.ndarray) -> dict[int, tuple[int, float, float]]:
    """The resting orders (id -> side, price, qty) after hftbacktest events, checking that each
    add, modify and cancel finds the book as hftbacktest's L3 depth requires."""
    book: dict[int, tuple[int, float, float]] = {}
    for ev, px, qty, order_id in zip(events["ev"], events["px"], events["qty"], events["order_id"]):
        kind, side = int(ev) & 0xFF, int(ev) & (export.HBT_BUY | export.HBT_SELL)
        if kind == export.HBT_DEPTH_CLEAR:
            book.clear()
        elif kind == export.HBT_ADD_ORDER:
            assert order_id not in book
            book[int(order_id)] = (side, px, qty)
        elif kind == export.HBT_MODIFY_ORDER:
            assert book[int(order_id)][0] == side and 0 < qty < book[int(order_id)][2]
            book[int(order_id)] = (side, px, qty)
        elif kind == export.HBT_CANCEL_ORDER:
            del book[int(order_id)]
        elif kind == export.HBT_FILL:
            assert book[int(order_id)][0] == side
    return book


def oracle_resting(oracle: OracleBook, loc: int) -> dict[int, tuple[int, float, float]]:
    return {ref: (export.HBT_BUY if side == "B" else export.HBT_SELL, price / 10_000, float(shares))
            for ref, (o_loc, side, price, shares) in oracle.orders.items() if o_loc == loc}


def test_hftbacktest_events_replay_to_the_oracle_book(random_feed, tmp_path):
    result = export.export_hftbacktest(random_feed, SYMBOL, tmp_path / "msft", date=DATE, latency_ns=250)
    assert result.paths == [tmp_path / "msft.npz"]
    events = np.load(result.paths[0])["data"]
    # hftbacktest's event_dtype, field for field.
    assert events.dtype.names == ("ev", "exch_ts", "local_ts", "px", "qty", "order_id", "ival", "fval")
    assert events.dtype.itemsize == 64 and len(events) == result.rows
    assert np.all(events["ev"] & (export.HBT_EXCH | export.HBT_LOCAL) == export.HBT_EXCH | export.HBT_LOCAL)
    assert np.all(np.diff(events["exch_ts"]) >= 0)
    assert np.all(events["local_ts"] - events["exch_ts"] == 250)
    assert events["exch_ts"][0] >= midnight_epoch_ns(np.datetime64(DATE).astype(object))
    assert int(events["ev"][0]) & 0xFF == export.HBT_DEPTH_CLEAR
    expected, _, _, oracle = oracle_events(random_feed, SYMBOL, 1)
    assert replay_l3(events) == oracle_resting(oracle, 2)
    kinds = np.asarray(events["ev"], np.uint64) & np.uint64(0xFF)
    executions = sum(1 for row in expected if row[2] == 4 and row[4] > 0)
    assert np.sum(kinds == export.HBT_FILL) == executions
    assert np.sum(kinds == export.HBT_TRADE) == executions + sum(1 for row in expected if row[2] in (5, 6))


def test_hftbacktest_snapshot_at_from(random_feed, tmp_path):
    """From a time of day on: a depth clear, the resting orders then as adds, then the events."""
    start = "00:00:00.000020"
    result = export.export_hftbacktest(random_feed, SYMBOL, tmp_path / "late.npz", date=DATE, start=start)
    events = np.load(result.paths[0])["data"]
    midnight = midnight_epoch_ns(np.datetime64(DATE).astype(object))
    assert events["exch_ts"][0] == midnight + 20_000
    oracle, feed_errors = OracleBook(), ErrorLog()
    for chunk in open_feed(random_feed, errors=feed_errors):
        for one in single_records(chunk):
            found = list(iter_messages(one, ErrorLog()))
            if found and itch.decode_message(found[0][2]).timestamp >= 20_000:
                break
            oracle.process(one)
        else:
            continue
        break
    snapshot = events[1:1 + len(oracle_resting(oracle, 2))]
    assert np.all(snapshot["exch_ts"] == midnight + 20_000)
    assert replay_l3(events[:1 + len(snapshot)]) == oracle_resting(oracle, 2)
    assert list(snapshot["order_id"]) == sorted(snapshot["order_id"])  # time priority


# ---- a backtest in hftbacktest itself ----

HFTBACKTEST_VENV = ROOT / "build" / "hftbacktest-venv"
EMPTY_BID_TICK, EMPTY_ASK_TICK = -(1 << 63), (1 << 63) - 1

BACKTEST = r'''
import json, sys
import numpy as np
from numba import njit
from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest
from hftbacktest.data import validate_event_order

npz, times = sys.argv[1], json.loads(sys.argv[2])
data = np.load(npz)["data"]
validate_event_order(data)
asset = (BacktestAsset().data([data]).linear_asset(1.0).constant_order_latency(10, 10)
         .l3_fifo_queue_model().no_partial_fill_exchange().trading_value_fee_model(0.0, 0.0)
         .tick_size(0.0001).lot_size(1.0))
hbt = HashMapMarketDepthBacktest([asset])

@njit
def run(hbt, start, times, ticks, qtys):
    now = start  # a backtest starts at its first event; current_timestamp is set by elapse
    for i in range(len(times)):
        if hbt.elapse(times[i] - now) != 0:
            return i
        now = hbt.current_timestamp
        depth = hbt.depth(0)
        ticks[i, 0] = depth.best_bid_tick
        ticks[i, 1] = depth.best_ask_tick
        qtys[i, 0] = depth.best_bid_qty
        qtys[i, 1] = depth.best_ask_qty
    return len(times)

ticks = np.zeros((len(times), 2), np.int64)
qtys = np.zeros((len(times), 2), np.float64)
done = run(hbt, data["exch_ts"][0], np.asarray(times, np.int64), ticks, qtys)
hbt.close()
print(json.dumps({"done": done, "ticks": ticks.tolist(), "qtys": qtys.tolist()}))
'''


def hftbacktest_python() -> Path:
    """A Python with hftbacktest (pyproject's `hftbacktest` extra) in its own environment under
    build/, made once: the package pins numba and numpy below what tickaccel uses."""
    python = HFTBACKTEST_VENV / "bin" / "python"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    requirement = pyproject["project"]["optional-dependencies"]["hftbacktest"][0]
    marker = HFTBACKTEST_VENV / ".installed"
    if not marker.exists() or marker.read_text() != requirement:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(HFTBACKTEST_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", requirement], check=True)
        marker.write_text(requirement)
    return python


@pytest.mark.slow
def test_hftbacktest_backtest_sees_the_book(tmp_path):
    """hftbacktest's L3 backtest on the export shows tickaccel's best bid and ask at set times."""
    from tickaccel.book.book import Book

    feed = tmp_path / "market.itch"
    feed.write_bytes(generate(60_000, n_symbols=4, seed=8).tobytes())
    book = Book(feed)
    book.advance(2_000)
    symbol = max(book.symbols, key=lambda s: len(book.orders(s)))
    result = export.export_hftbacktest(feed, symbol, tmp_path / "l3.npz", date=DATE)
    events = np.load(result.paths[0])["data"]
    midnight = midnight_epoch_ns(np.datetime64(DATE).astype(object))
    # Times between two events (never on one), spread over the feed.
    stamps = np.unique(events["exch_ts"] - midnight)
    gaps = np.flatnonzero(np.diff(stamps) > 1)
    picked = gaps[np.linspace(0, len(gaps) - 1, 8).astype(int)[1:]]
    times = [int(stamps[i] + stamps[i + 1]) // 2 for i in picked]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run = subprocess.run([str(hftbacktest_python()), "-c", BACKTEST, str(result.paths[0]),
                          json.dumps([midnight + t for t in times])],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    answer = json.loads(run.stdout.strip().splitlines()[-1])
    assert answer["done"] == len(times)
    book, two_sided = Book(feed), 0
    for time, ticks, qtys in zip(times, answer["ticks"], answer["qtys"]):
        book.advance_to(time)
        quote = book.bbo(symbol)
        # hftbacktest's best tick of an empty side is the lowest (bid) or highest (ask) int64.
        expected = [EMPTY_BID_TICK if quote.bid_price is None else round(quote.bid_price * 10_000),
                    EMPTY_ASK_TICK if quote.ask_price is None else round(quote.ask_price * 10_000)]
        assert (ticks, qtys) == (expected, [quote.bid_size, quote.ask_size]), time
        two_sided += quote.bid_size > 0 and quote.ask_size > 0
    assert two_sided >= len(times) // 2
