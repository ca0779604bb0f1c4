"""The live receiver on loopback: in-sequence book, recovery, staleness, outputs, shutdown.

Every network wait here is bounded: receivers run with a `duration`, sockets
with timeouts, and loops with an iteration limit.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from feeds import binaryfile, random_messages
from tickaccel.schema import itch
from tickaccel.feed.binaryfile import write_binaryfile
from tickaccel.book.fast import FastBook
from tickaccel.errors import ErrorLog
from tickaccel.feed.source import open_feed
from tickaccel.live.receiver import LiveReceiver
from tickaccel.live.segments import read_segments
from tickaccel.live.sinks import BookSink
from tickaccel.live.wire import (
    BBO_RECORD,
    FRAME_HEADER,
    KIND_END,
    MAGIC,
    VERSION,
    decode_frame,
    records_table,
    wire_records,
)
from tickaccel.live.zmq_bus import BboSubscriber
from tickaccel.live.metrics import LiveMetrics, json_logging
from tickaccel.feed.moldudp64 import HEADER
from tickaccel.live.player import FaultSpec, Publisher

FEED_MESSAGES = 40_040  # 40 000 random book operations and the 40 symbols' directory


def write_live_feed(path: Path) -> Path:
    """The feed every live test plays: `FEED_MESSAGES` random messages, as BinaryFILE."""
    write_binaryfile(path, [itch.encode_message(m) for m in random_messages(11, 40_000, 40)])
    return path


def replayed_bbo(feed: Path) -> pa.Table:
    """The BBO table an offline replay of `feed` gives."""
    book = FastBook()
    return pa.concat_tables([book.process(c)["bbo"] for c in open_feed(feed, errors=ErrorLog())])


@pytest.fixture(scope="module")
def feed(tmp_path_factory) -> Path:
    return write_live_feed(tmp_path_factory.mktemp("feed") / "live.itch")


@pytest.fixture(scope="module")
def offline_bbo(feed) -> pa.Table:
    return replayed_bbo(feed)


def run_pair(feed: Path, outdir: Path, *, faults: str = "", rate: float | None = 400_000,
             rerequest: bool = True, recovery_timeout: float = 2.0, duration: float = 30.0,
             before: Callable | None = None, publisher_options: dict | None = None,
             **receiver_options) -> tuple[dict, Publisher]:
    """Publish `feed` to a fresh receiver on loopback; both stop by themselves."""
    receiver = LiveReceiver(("127.0.0.1", 0), outdir, recovery_timeout=recovery_timeout,
                            **receiver_options)
    publisher = Publisher.from_file(feed, receiver.address, rate=rate,
                                    faults=FaultSpec.parse(faults),
                                    rerequest_port=0 if rerequest else None, linger=duration,
                                    heartbeat_interval=0.05, **(publisher_options or {}))
    receiver.rerequest = publisher.rerequest_address
    if before is not None:
        before(receiver, publisher)
    sender = threading.Thread(target=publisher.run, daemon=True)
    sender.start()
    try:
        summary = receiver.run(duration=duration)
    finally:
        publisher.stop()
        sender.join(timeout=10)
        publisher.close()
    assert not sender.is_alive()
    return summary, publisher


def test_clean_stream_gives_the_offline_book(feed, offline_bbo, tmp_path):
    summary, _ = run_pair(feed, tmp_path)
    assert summary["end_of_session"] and not summary["stale"]
    assert summary["messages"] == FEED_MESSAGES
    assert read_segments(tmp_path).equals(offline_bbo)
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["latency"]["publish"]["count"] == FEED_MESSAGES


@pytest.mark.parametrize("faults", [
    "drop=0.01,seed=1",
    "drop=0.05,duplicate=0.05,reorder=0.05,seed=2",
    "drop=0.2,duplicate=0.1,reorder=0.2,seed=3",
])
def test_faults_are_recovered_to_the_offline_book(feed, offline_bbo, tmp_path, faults):
    summary, publisher = run_pair(feed, tmp_path, faults=faults)
    assert publisher.stats.dropped + publisher.stats.reordered > 0
    assert summary["end_of_session"] and not summary["stale"]
    assert summary["gaps_detected"] == summary["gaps_recovered"] > 0
    assert summary["gaps_unrecovered"] == summary["messages_lost"] == 0
    assert read_segments(tmp_path).equals(offline_bbo)


def test_unrecovered_gap_marks_the_book_stale(feed, offline_bbo, tmp_path):
    endpoint = f"ipc://{tmp_path}/bbo.sock"
    got: list[np.ndarray] = []
    threads: list[threading.Thread] = []

    def subscribe(_receiver, _publisher):
        sub = BboSubscriber(endpoint)

        def loop():
            for _ in range(2_000):  # bounded: 100 s of empty polls at most; ends at the end frame
                records = sub.receive(50)
                if records is not None:
                    got.append(records.copy())
                if sub.ended:
                    break
            sub.close()

        threads.append(threading.Thread(target=loop, daemon=True))
        threads[0].start()
        time.sleep(0.3)  # the SUB connects before the first frame

    summary, publisher = run_pair(feed, tmp_path, faults="drop=0.02,seed=4", rerequest=False,
                                  recovery_timeout=0.05, pub=endpoint, before=subscribe)
    assert publisher.stats.dropped > 0
    assert summary["stale"] and summary["gaps_unrecovered"] > 0
    assert summary["messages_lost"] == sum(count for _, count in summary["unrecovered"])
    assert summary["messages"] + summary["messages_lost"] == FEED_MESSAGES
    first_lost = summary["unrecovered"][0][0]
    live = read_segments(tmp_path)
    before = live.filter(pa.compute.less(live["seq"], first_lost))
    assert before.equals(offline_bbo.slice(0, before.num_rows))  # right up to the first loss
    threads[0].join(timeout=10)
    assert not threads[0].is_alive()
    records = np.concatenate(got)
    assert len(records) == summary["rows"]["bbo"]
    after = records[records["seq"] > first_lost]
    assert len(after) and (after["flags"] & 1).all()
    assert not (records[records["seq"] < first_lost]["flags"] & 1).any()


def test_malformed_datagrams_are_counted_and_skipped(feed, offline_bbo, tmp_path):
    def inject(receiver, publisher):
        junk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        good_header = HEADER.pack(publisher.session, 5, 3)
        for payload in (b"short", good_header + b"\x00\x30garbage", good_header,
                        HEADER.pack(b"OTHERSESS ", 1, 1) + b"\x00\x01S"):
            junk.sendto(payload, receiver.address)
        junk.close()

    summary, _ = run_pair(feed, tmp_path, before=inject, session="TICKACCEL1")
    assert summary["malformed_packets"] == 3
    assert summary["wrong_session_packets"] == 1
    assert not summary["stale"]
    assert read_segments(tmp_path).equals(offline_bbo)


def test_stalled_subscriber_never_blocks_the_feed(feed, offline_bbo, tmp_path):
    endpoint = f"ipc://{tmp_path}/stall.sock"
    stalled: list[BboSubscriber] = []

    def connect(receiver, _publisher):
        # frames of 64 records: the feed goes out in far more frames than the queues between
        # publisher and subscriber hold, however late a loaded machine wakes the publishing
        # thread (at the default 4 096 records a frame, one such run sent the feed in 3)
        receiver.publisher.max_frame = 64
        stalled.append(BboSubscriber(endpoint, hwm=2))
        time.sleep(0.3)

    # A publisher blocked by the stalled subscriber would keep the session from ending; how
    # long the run takes depends on the machine's load, so that is not asserted.
    summary, _ = run_pair(feed, tmp_path, rate=None, pub=endpoint, pub_hwm=2, before=connect,
                          duration=60)
    assert summary["end_of_session"]
    assert read_segments(tmp_path).equals(offline_bbo)
    sub = stalled[0]
    batches = []
    for _ in range(1000):  # drain what the HWM let through
        if sub.receive(100) is None:
            break
        batches.append(sub.last_batch)
    sub.close()
    # The HWM guarantees only that the publisher never blocked: this subscriber got some
    # frames, not all, in order, and every frame it missed between two it got is counted.
    # Which frames ZeroMQ kept (a prefix, or some from the middle) depends on timing.
    assert 0 < len(batches) < summary["published_batches"]
    assert batches == sorted(set(batches))
    assert sub.lost_batches == batches[-1] - batches[0] + 1 - len(batches)


def test_published_records_round_trip():
    table = FastBook().process(open_feed_chunk())["bbo"]
    records = wire_records(table, stale=True)
    assert records.dtype == BBO_RECORD and BBO_RECORD.itemsize == 56
    assert records["seq"].tolist() == table["seq"].to_pylist()
    assert [s.decode().rstrip() for s in records["symbol"]] == table["symbol"].to_pylist()
    assert (records["flags"] == 1).all()
    assert records_table(records).equals(table)
    frame = FRAME_HEADER.pack(MAGIC, VERSION, KIND_END, 7, len(records), 1) + records.tobytes()
    header, back = decode_frame(frame)
    assert header == {"kind": KIND_END, "batch": 7, "count": len(records), "flags": 1}
    assert np.array_equal(back, records)


def open_feed_chunk(messages: list[tuple] | None = None):
    """One chunk of `messages` (default: a small random feed), numbered from 1 as live does."""
    from tickaccel.feed.chunk import FeedChunk

    messages = random_messages(2, 2_000, 5) if messages is None else messages
    return FeedChunk(np.frombuffer(binaryfile(messages), np.uint8), 1,
                     np.arange(1, len(messages) + 1, dtype=np.uint64), -1)


def test_records_from_book_columns_equal_the_replay_table_across_a_rename():
    """The live path's records (book columns + symbols walked in Numba) carry what a replay
    writes, including rows made before and after a locate is renamed inside one chunk."""
    messages = random_messages(2, 2_000, 5)
    renamed = messages + [itch.make("R", stock_locate=1, stock="RENAMED")] + [
        itch.make("A", stock_locate=1, timestamp=10**12 + k, order_ref=10**9 + k, side="B",
                  shares=100, price=1_000_000 + k) for k in range(3)]
    for feed in (messages, renamed):
        chunk = open_feed_chunk(feed)
        expected = FastBook().process(chunk)["bbo"]
        sink = BookSink()
        records = sink.records(chunk, stale=False)
        assert records_table(records).equals(expected)
        assert not records["flags"].any()
    locate_1 = expected.filter(pa.compute.equal(expected["stock_locate"], 1))
    assert len(set(locate_1["symbol"].to_pylist()) | {"RENAMED"}) == 2  # old name, then new
    assert locate_1["symbol"][-1].as_py() == "RENAMED"
    # Split in two chunks the names carry over from one call to the next.
    first, second = open_feed_chunk(renamed[:100]), open_feed_chunk(renamed)
    second = type(second)(second.data[len(first.data):], 101, second.seqs[100:], -1)
    sink = BookSink()
    parts = [records_table(sink.records(c, stale=True).copy()) for c in (first, second)]
    assert pa.concat_tables(parts).equals(expected)


def test_latency_histogram_answers_as_hdrhistogram():
    from hdrh.histogram import HdrHistogram
    from tickaccel.live.metrics import STAGES, LatencyRecorder

    rng = np.random.default_rng(3)
    starts = rng.integers(0, 10**9, 5_000)
    latencies = np.concatenate([rng.integers(1, 3_000, 2_000),
                                rng.lognormal(11, 2, 3_000).astype(np.int64) + 1])
    weights = rng.integers(1, 40, 5_000)
    recorder = LatencyRecorder()
    ends = np.tile(starts + latencies, (len(STAGES), 1))
    recorder.record_batch(ends, starts, weights, 5_000)
    oracle = HdrHistogram(1, 60 * 10**9, 3)
    for value, count in zip(np.minimum(latencies, 60 * 10**9).tolist(), weights.tolist()):
        oracle.record_value(value, count)
    row = recorder.summary()[STAGES[0]]
    assert row["count"] == oracle.get_total_count()
    for p in (50.0, 99.0, 99.9):
        assert row[f"p{p:g}_us"] == oracle.get_value_at_percentile(p) / 1000.0
    assert row["max_us"] == latencies.max() / 1000.0
    buckets, total_s, count = recorder.bucket_counts(STAGES[0])
    assert count == oracle.get_total_count() and buckets[-1] == ("+Inf", float(count))
    assert total_s == pytest.approx(float(latencies @ weights) / 1e9, rel=1e-3)  # 3 digits
    assert [n for _, n in buckets] == sorted(n for _, n in buckets)


def test_metrics_are_served_while_receiving(feed, tmp_path):
    metrics = LiveMetrics()
    scraped: list[str] = []

    def scrape(_receiver, _publisher):
        port = metrics.serve(0)

        def loop():
            for _ in range(200):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    text = r.read().decode()
                if "tickaccel_messages_total{type=\"A\"}" in text:
                    scraped.append(text)
                    return
                time.sleep(0.02)

        threading.Thread(target=loop, daemon=True).start()

    try:
        run_pair(feed, tmp_path, rate=100_000, faults="drop=0.01,seed=5", metrics=metrics,
                 before=scrape)
    finally:
        metrics.close()
    text = scraped[0]
    for name in ("tickaccel_packets_total", "tickaccel_gaps_detected_total",
                 "tickaccel_stale_symbols", "tickaccel_queue_depth",
                 "tickaccel_latency_seconds_bucket", "tickaccel_latency_percentile_seconds",
                 "tickaccel_last_packet_timestamp_seconds"):
        assert name in text


def test_json_log_lines(capsys):
    import io

    stream = io.StringIO()
    handler = json_logging(stream=stream)
    try:
        logging.getLogger("tickaccel.live.receiver").error("gap", extra={"first_seq": 5})
    finally:
        logging.getLogger("tickaccel").removeHandler(handler)
    entry = json.loads(stream.getvalue().splitlines()[-1])
    assert entry["level"] == "error" and entry["msg"] == "gap" and entry["first_seq"] == 5


TICKACCEL = [sys.executable, "-c", "import sys; from tickaccel.cli import main; sys.exit(main())"]


def _live_command(port: int, rerequest: tuple[str, int], outdir: Path) -> list[str]:
    return TICKACCEL + ["live", "--listen", f"127.0.0.1:{port}", "-o", str(outdir),
                        "--rerequest", f"{rerequest[0]}:{rerequest[1]}", "--duration", "60"]


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stderr_lines(proc: subprocess.Popen) -> list[str]:
    """Collects a process's stderr lines from a thread, so waiting on them is bounded."""
    lines: list[str] = []

    def read():
        lines.extend(proc.stderr)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _wait_for(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_killed_receiver_restarts_from_the_rerequest_server(feed, offline_bbo, tmp_path):
    port = _free_udp_port()
    publisher = Publisher.from_file(feed, ("127.0.0.1", port), rate=20_000, rerequest_port=0,
                                    linger=30, heartbeat_interval=0.05)
    first = subprocess.Popen(_live_command(port, publisher.rerequest_address, tmp_path / "a"),
                             stderr=subprocess.PIPE, text=True)
    log_lines = _stderr_lines(first)
    sender = threading.Thread(target=publisher.run, daemon=True)
    try:
        assert _wait_for(lambda: any('"listening"' in line for line in log_lines), 60)
        sender.start()
        assert _wait_for(lambda: publisher.stats.messages > FEED_MESSAGES // 3, 20)
        first.kill()  # no flush, no goodbye
        first.wait(timeout=10)
        restarted = LiveReceiver(("127.0.0.1", port), tmp_path / "b",
                                 rerequest=publisher.rerequest_address)
        summary = restarted.run(duration=30)
    finally:
        if first.poll() is None:
            first.kill()
        publisher.stop()
        if sender.ident is not None:
            sender.join(timeout=10)
        publisher.close()
    assert summary["end_of_session"] and not summary["stale"]
    assert summary["gaps_detected"] >= 1 and summary["rerequests"] >= 1
    assert read_segments(tmp_path / "b").equals(offline_bbo)


def test_sigterm_flushes_segments_and_summary(feed, tmp_path):
    port = _free_udp_port()
    proc = subprocess.Popen(TICKACCEL + ["live", "--listen", f"127.0.0.1:{port}", "-o",
                                         str(tmp_path), "--duration", "60"],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    log_lines = _stderr_lines(proc)
    publisher = Publisher.from_file(feed, ("127.0.0.1", port), rate=50_000)
    sender = threading.Thread(target=publisher.run, daemon=True)
    try:
        assert _wait_for(lambda: any('"listening"' in line for line in log_lines), 60)
        sender.start()
        assert _wait_for(lambda: publisher.stats.messages > 5_000, 20)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        publisher.stop()
        if sender.ident is not None:
            sender.join(timeout=10)
        publisher.close()
    assert proc.returncode == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["messages"] > 0 and not summary["end_of_session"]
    assert read_segments(tmp_path).num_rows == summary["rows"]["bbo"] > 0
    assert "p99.9=" in out
    assert os.path.exists(tmp_path / summary["segments"][0])
