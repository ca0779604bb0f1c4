"""Loopback benchmark of the live pipeline: `tickaccel publish` -> `LiveReceiver`, then shards.

Part 1 plays a generated feed at each rate from a separate publisher process
(so publisher and receiver each have a core) to a receiver in this process
that applies, publishes on ZeroMQ and writes Parquet. It reports the
receive-to-publish latency percentiles and whether any datagram was lost
(gaps detected; the re-request server is on, so the book still ends right).

Part 2 measures the book stage alone, chunk by chunk as the receiver hands
them over: the in-process fast book, and Ray shard actors with 1 and 2 workers.

    python bench/live_loopback.py --messages 2000000 --rates 100000,1000000,max
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from tickaccel.feed.binaryfile import write_binaryfile
from tickaccel.errors import ErrorLog
from tickaccel.feed.chunk import FeedChunk
from tickaccel.feed.source import open_feed
from tickaccel.feed.generator import generate
from tickaccel.live.receiver import LiveReceiver
from tickaccel.live.sinks import BookSink, TableSink

TICKACCEL = [sys.executable, "-c", "import sys; from tickaccel.cli import main; sys.exit(main())"]


def run_rate(feed: Path, rate: str, outdir: Path, timeout: float) -> dict:
    receiver = LiveReceiver(("127.0.0.1", 0), outdir, pub="tcp://127.0.0.1:0")
    port = receiver.address[1]
    request_port = receiver.address[1] + 1
    cmd = TICKACCEL + ["publish", str(feed), "--to", f"127.0.0.1:{port}", "--rerequest-port",
                       str(request_port), "--linger", "1", "--json"]
    if rate != "max":
        cmd += ["--rate", rate]
    receiver.rerequest = ("127.0.0.1", request_port)
    publisher = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(receiver.run(duration=timeout)))
    thread.start()
    thread.join()
    out, _ = publisher.communicate(timeout=60)  # it ends after its linger
    sent = json.loads(out) if out.strip() else {}
    busy = max(result["busy_seconds"], 1e-9)
    return {"rate": rate, "sent": sent.get("messages"), "send_seconds": sent.get("seconds"),
            "received": result["messages"], "gaps": result["gaps_detected"],
            "recovered": result["gaps_recovered"], "unrecovered": result["gaps_unrecovered"],
            "rerequests": result["rerequests"],
            "publisher_cpu_percent": round(100 * sent.get("cpu_seconds", 0)
                                           / max(sent.get("seconds", 0), 1e-9)),
            "receiver_cpu_percent": round(100 * result["cpu_seconds"] / busy),
            "segment_writer_cpu_seconds": round(result["segment_writer_cpu_seconds"], 2),
            "receiver_busy_seconds": round(busy, 2),
            "latency_us": result["latency"], "load_average": os.getloadavg()}


def chunks_like_live(feed: Path, messages_per_chunk: int) -> list[FeedChunk]:
    """The feed cut into the small in-order chunks the receiver hands its book stage."""
    from tickaccel.feed.binaryfile import record_offsets

    out = []
    for chunk in open_feed(feed, errors=ErrorLog()):
        data = np.asarray(chunk.data)
        offsets = np.append(record_offsets(data), len(data))
        for i in range(0, len(offsets) - 1, messages_per_chunk):
            j = min(i + messages_per_chunk, len(offsets) - 1)
            first = chunk.first_seq + i
            out.append(FeedChunk(data[offsets[i]:offsets[j]], first,
                                 np.arange(first, chunk.first_seq + j, dtype=np.uint64), -1))
    return out


def book_throughput(chunks: list[FeedChunk], sink) -> float:
    """Messages per second through a book stage, handed over as the receiver does."""
    sink.records(chunks[0], False)  # warm up outside the timing
    t0 = time.perf_counter()
    for c in chunks[1:]:
        sink.records(c, False)
    messages = sum(len(c.seqs) for c in chunks[1:])
    return messages / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2_000_000)
    parser.add_argument("--symbols", type=int, default=1000)
    parser.add_argument("--rates", default="100000,1000000,max")
    parser.add_argument("--chunk-messages", type=int, default=10_000,
                        help="messages per chunk in the book-stage benchmark")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--no-shards", action="store_true",
                        help="skip part 2 (the book stage alone, in process and on Ray)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        feed = Path(tmp) / "bench.itch"
        write_binaryfile(feed, generate(args.messages, args.symbols, seed=1))
        print(f"# machine: {platform.machine()}, {platform.python_implementation()} "
              f"{platform.python_version()}, feed {args.messages} messages")
        for rate in args.rates.split(","):
            row = run_rate(feed, rate, Path(tmp) / f"out-{rate}", args.timeout)
            print(json.dumps(row))
        if not args.no_shards:
            book_stage(feed, args.chunk_messages)


def book_stage(feed: Path, chunk_messages: int) -> None:
    """Part 2: the book stage alone, in process and as Ray shard actors."""
    import ray
    from tickaccel.batch.cluster import ShardedSink

    chunks = chunks_like_live(feed, chunk_messages)
    rows = {"in-process fast book": book_throughput(chunks, BookSink())}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        for workers in (1, 2):
            sink = TableSink(ShardedSink(workers))
            rows[f"Ray shard actors, {workers} worker(s)"] = book_throughput(chunks, sink)
            sink.close()
    finally:
        ray.shutdown()
    for name, rate in rows.items():
        print(json.dumps({"book_stage": name, "chunk_messages": chunk_messages,
                          "messages_per_second": round(rate)}))


if __name__ == "__main__":
    main()
