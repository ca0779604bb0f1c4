"""Books sharded by symbol over threads: the same tables, errors and counts as one book."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds import binaryfile, chunk, faulty_capture, ops_to_messages, random_messages, split
from test_book import OPS, assert_same
from tickaccel.book.fast import FastBook
from tickaccel.book.oracle import OracleBook
from tickaccel.book.shards import ShardedBook, balanced_shards
from tickaccel.cli import main
from tickaccel.errors import ErrorLog
from tickaccel.feed.source import open_feed
from tickaccel.schema import itch

# A zero-length record, an unknown type and a record cut short by the end of the file.
BAD_TAIL = b"\x00\x00" + b"\x00\x05Zabcd" + b"\x00\x03"


def assert_same_as_one_book(chunks, threads, depth=3, trades=True, one=None):
    one = one or FastBook(depth=depth, trades=trades)
    sharded = ShardedBook(threads, depth=depth, trades=trades)
    assert_same(one, sharded, chunks)
    assert sharded.symbols == one.symbols
    return sharded


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS, st.integers(2, 4), st.sampled_from([64, 700, 1 << 20]))
def test_sharded_book_equals_one_book_on_random_faulty_feeds(ops, threads, chunk_bytes):
    data = binaryfile(ops_to_messages(ops, n_symbols=5, faults=True)) + BAD_TAIL
    assert_same_as_one_book(split(data, chunk_bytes), threads)


@pytest.mark.parametrize("threads", [2, 3, 8])
def test_sharded_book_equals_one_book_on_a_long_faulty_feed(threads):
    data = binaryfile(random_messages(3, 20_000, n_symbols=12, faults=True)) + BAD_TAIL
    sharded = assert_same_as_one_book(split(data, 50_000), threads)
    assert all(shard.book.records for shard in sharded.shards)  # every thread had work


def test_sharded_book_equals_one_book_on_a_lossy_capture(tmp_path):
    """Capture chunks carry sequence numbers: errors are positioned by them."""
    data = binaryfile(random_messages(5, 8_000, n_symbols=6, faults=True))
    faulty_capture(tmp_path / "f.pcap", data, seed=2)
    chunks = list(open_feed(tmp_path / "f.pcap", errors=ErrorLog()))
    assert any(c.seqs is not None for c in chunks)
    assert_same_as_one_book(chunks, 3)


def test_orders_follow_their_owner_and_a_replace_onto_another_shards_order_is_a_duplicate():
    """Locate 1 is busier, so it and locate 2 land on different shards. The E and U name the
    other locate in their headers; the U's new reference is live on the other shard, so one
    book removes the original, counts a duplicate and adds nothing: the shards must too."""
    add = lambda locate, ref, price: itch.make(  # noqa: E731
        "A", stock_locate=locate, order_ref=ref, side="B", shares=100, stock="", price=price)
    msgs = [itch.make("R", stock_locate=1, stock="AAA"), itch.make("R", stock_locate=2, stock="BBB"),
            add(1, 10, 10_000), add(1, 11, 10_100), add(1, 12, 10_200), add(2, 20, 20_000),
            itch.make("E", stock_locate=2, order_ref=10, executed_shares=40, match_number=1),
            itch.make("U", stock_locate=2, original_order_ref=11, new_order_ref=20, shares=5,
                      price=10_300),
            itch.make("A", stock_locate=1, order_ref=20, side="S", shares=9, stock="", price=9),
            itch.make("D", stock_locate=1, order_ref=20)]
    data = binaryfile(msgs)
    shards = balanced_shards(np.frombuffer(data, np.uint8), 2)
    assert shards[1] != shards[2]
    sharded = assert_same_as_one_book([chunk(data)], 2, depth=2, one=OracleBook(depth=2, trades=True))
    assert sharded.errors.counts == {"duplicate_order_ref": 2}
    assert sharded.message_counts == {"A": 5, "D": 1, "E": 1, "R": 2, "U": 1}


def test_balanced_shards_spread_the_busy_locates():
    messages = random_messages(1, 20_000, n_symbols=40)
    shards = balanced_shards(np.frombuffer(binaryfile(messages), np.uint8), 4)
    per_locate: dict[int, int] = {}
    for m in messages:
        per_locate[m.stock_locate] = per_locate.get(m.stock_locate, 0) + 1
    load = np.zeros(4, np.int64)
    for locate, n in per_locate.items():
        load[shards[locate]] += n
    assert load.max() - load.min() <= max(per_locate.values())  # greedy: within one locate


def _tables(folder):
    return {name: pq.read_table(folder / f"{name}.parquet") for name in ("bbo", "depth", "trades")}


def test_replay_threads_writes_the_tables_of_one_thread(tmp_path, capsys):
    feed = tmp_path / "f.itch"
    feed.write_bytes(binaryfile(random_messages(2, 6_000, n_symbols=8, faults=True)) + BAD_TAIL)
    assert main(["replay", str(feed), "-o", str(tmp_path / "one"), "--depth", "2", "--trades"]) == 0
    assert main(["replay", str(feed), "-o", str(tmp_path / "two"), "--depth", "2", "--trades",
                 "--threads", "2"]) == 0
    one, two = _tables(tmp_path / "one"), _tables(tmp_path / "two")
    for name in one:
        assert two[name].equals(one[name]), name
    summaries = [json.loads((tmp_path / d / "summary.json").read_text()) for d in ("one", "two")]
    assert summaries[1].pop("threads") == 2
    for key in ("errors", "message_counts", "records", "rows"):
        assert summaries[1][key] == summaries[0][key], key


@pytest.mark.parametrize("args, message", [
    (["--threads", "0"], "--threads must be 1 to 256"),
    (["--threads", "2", "--engine", "oracle"], "--threads splits the fast book"),
])
def test_replay_refuses_threads_it_cannot_run(tmp_path, capsys, args, message):
    feed = tmp_path / "f.itch"
    feed.write_bytes(binaryfile(random_messages(2, 100)))
    assert main(["replay", str(feed), "-o", str(tmp_path / "out"), *args]) == 2
    assert message in capsys.readouterr().err


def test_replay_tables_with_threads_equals_one_thread(tmp_path):
    from tickaccel import replay_tables

    feed = tmp_path / "f.itch"
    feed.write_bytes(binaryfile(random_messages(4, 5_000, n_symbols=6, faults=True)))
    one, two = replay_tables(feed, trades=True), replay_tables(feed, trades=True, threads=2)
    assert all(two[name].equals(one[name]) for name in one)
    assert two.errors.to_dict() == one.errors.to_dict()
    assert isinstance(two["bbo"], pa.Table)
