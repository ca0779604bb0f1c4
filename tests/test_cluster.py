"""Sharded replay: the shards' merged outputs equal one book's, in-process and on Ray."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import ray
from feeds import binaryfile, random_messages, trade_kinds_feed
from tickaccel.book.fast import FastBook
from tickaccel.batch.cluster import merge_shards, replay_cluster, replay_shard
from tickaccel.book.shards import Router, shard_of_locate
from tickaccel.errors import ErrorLog
from tickaccel.feed.source import open_feed
from tickaccel.schema.tables import printable_trades

# A zero-length record, an unknown type and a record cut short by the end of the file.
BAD_TAIL = b"\x00\x00" + b"\x00\x05Zabcd" + b"\x00\x03"


def write_feed(path: Path, seed: int, faults: bool) -> Path:
    path.write_bytes(binaryfile(random_messages(seed, 6_000, 11, faults=faults)) + BAD_TAIL)
    return path


def single_replay(path: Path, depth: int, trades: bool) -> tuple[dict[str, pa.Table], dict]:
    """What one process with one book gives: tables and errors (book and feed)."""
    feed_errors = ErrorLog()
    book = FastBook(depth=depth, trades=trades)
    parts = [book.process(c) for c in open_feed(path, errors=feed_errors)]
    errors = book.errors
    errors.merge(feed_errors)
    return {k: pa.concat_tables([p[k] for p in parts]) for k in parts[0]}, errors.to_dict()


@pytest.mark.parametrize("faults", [False, True])
@pytest.mark.parametrize("n_shards", [2, 3])
def test_merged_shards_equal_one_book(tmp_path, faults, n_shards):
    feed = write_feed(tmp_path / "f.itch", 5, faults)
    expected, errors = single_replay(feed, depth=3, trades=True)
    results = [replay_shard(str(feed), s, n_shards, depth=3, trades=True)
               for s in range(n_shards)]
    tables, summary = merge_shards(results)
    for name, table in expected.items():
        assert tables[name].equals(table), name
    assert summary["errors"] == errors
    assert sum(r.records for r in results) == summary["records"]
    assert all(r.records for r in results)  # every shard got work


@pytest.mark.parametrize("printable_only", [False, True])
def test_merged_shards_equal_one_book_with_non_printable_and_broken_trades(tmp_path, printable_only):
    feed = trade_kinds_feed(tmp_path / "f.itch", 3)
    expected, _ = single_replay(feed, depth=0, trades=True)
    kinds = set(zip(expected["trades"].column("type").to_pylist(),
                    expected["trades"].column("printable").to_pylist()))
    assert {("C", False), ("B", False), ("C", True)} <= kinds  # the feed has them all
    results = [replay_shard(str(feed), s, 3, trades=True) for s in range(3)]
    tables, summary = merge_shards(results, printable_only)
    want = printable_trades(expected["trades"]) if printable_only else expected["trades"]
    assert tables["trades"].equals(want)
    assert summary["rows"]["trades"] == want.num_rows


def test_order_messages_follow_their_order_across_locates(tmp_path):
    """An execution whose header names another locate still reaches the order's shard."""
    from feeds import chunk, record
    from tickaccel.schema import itch

    msgs = [itch.make("A", stock_locate=1, order_ref=7, side="B", shares=100, stock="AAPL",
                      price=10_000),
            itch.make("E", stock_locate=2, order_ref=7, executed_shares=40, match_number=1),
            itch.make("D", stock_locate=2, order_ref=99)]
    data = b"".join(record(m) for m in msgs)
    routed = Router(shard_of_locate(2)).route(chunk(data))
    kept = {s: routed.part(s).chunk.seqs.tolist() for s in range(2)}
    assert kept == {0: [3], 1: [1, 2]}  # unknown ref 99: the shard of its header's locate


@pytest.fixture(scope="module")
def local_ray():
    """One small local Ray for this module's Ray tests, shut down after them."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_replay_cluster_on_two_local_ray_workers(tmp_path, local_ray):
    feeds = [write_feed(tmp_path / "day1.itch", 1, False), write_feed(tmp_path / "day2.itch", 2, True)]
    summary = replay_cluster(feeds, tmp_path / "out", workers=2, depth=2, trades=True)
    assert summary["shards_per_feed"] == 2
    for feed in feeds:
        expected, errors = single_replay(feed, depth=2, trades=True)
        out = tmp_path / "out" / feed.stem
        for name, table in expected.items():
            assert pq.read_table(out / f"{name}.parquet").equals(table), (feed, name)
        assert json.loads((out / "summary.json").read_text())["errors"] == errors


def test_live_receiver_with_two_shard_actors_gives_the_offline_book(tmp_path, local_ray):
    import threading

    from tickaccel.batch.cluster import ShardedSink
    from tickaccel.live.receiver import LiveReceiver
    from tickaccel.live.segments import read_segments
    from tickaccel.live.player import FaultSpec, Publisher

    feed = write_feed(tmp_path / "live.itch", 3, False)
    expected, _ = single_replay(feed, depth=0, trades=False)
    sink = ShardedSink(2)
    receiver = LiveReceiver(("127.0.0.1", 0), tmp_path / "out", sink=sink)
    publisher = Publisher.from_file(feed, receiver.address, rate=100_000, rerequest_port=0,
                                    faults=FaultSpec(drop=0.02, seed=1), linger=30)
    receiver.rerequest = publisher.rerequest_address
    sender = threading.Thread(target=publisher.run, daemon=True)
    sender.start()
    try:
        summary = receiver.run(duration=30)
    finally:
        publisher.stop()
        sender.join(timeout=10)
        publisher.close()
    assert summary["end_of_session"] and not summary["stale"]
    assert read_segments(tmp_path / "out").equals(expected["bbo"])


def test_replay_printable_only_on_the_cluster_equals_the_cpu_backend(tmp_path, local_ray):
    from tickaccel.batch.backends import replay

    feed = trade_kinds_feed(tmp_path / "f.itch", 7)
    cpu = replay(feed, tmp_path / "cpu", trades=True, printable_only=True)
    replay(feed, tmp_path / "ray", cluster="local", workers=2, trades=True, printable_only=True)
    counted = pq.read_table(tmp_path / "cpu" / "trades.parquet")
    assert pq.read_table(tmp_path / "ray" / "trades.parquet").equals(counted)
    assert all(counted.column("printable").to_pylist())
    assert cpu["rows"]["trades"] == counted.num_rows
