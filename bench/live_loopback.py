"""Loopback benchmark of the live pipeline, end to end as a subscriber sees it; then the book stage.

Part 1, for each rate: an independent MoldUDP64 sender (this script with
``--send``: `tickaccel publish` with its re-request server, in bursts of at
most 50 µs, a process of its own pinned to core 0) plays a generated feed at
a message rate and notes the send time of every datagram; the receiver
(`LiveReceiver` in this process, its loop's thread pinned to core 1) applies
the book, publishes on ZeroMQ and writes Parquet; a ZeroMQ subscriber (this
script with ``--subscribe``, a process of its own) notes when each record
arrives (``--ring``: reads the receiver's shared-memory ring instead). Reported
per rate: end to end (datagram send -> record received by the subscriber)
percentiles; the receiver's own split, from the kernel's
receive timestamp (arrival) to read, book applied and published (records in
the ring); kernel drops (gaps the receiver saw, RcvbufErrors of
/proc/net/snmp); receiver CPU seconds per million messages (its loop's
thread, and the whole process: loop, publisher thread, ZeroMQ I/O); the load
average. JSON rows, then the Markdown rows of bench/RESULTS.md.

Part 2 measures the book stage alone, chunk by chunk as the receiver hands
them over: the in-process fast book, and Ray shard actors with 1 and 2 workers.

    python bench/live_loopback.py --messages 1000000 --rates 100000,1000000,max --no-shards

Works against older versions of tickaccel too (PYTHONPATH=...), for before/after figures.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from tickaccel.errors import ErrorLog
from tickaccel.feed.binaryfile import write_binaryfile
from tickaccel.feed.chunk import FeedChunk
from tickaccel.feed.generator import generate
from tickaccel.feed.source import open_feed
from tickaccel.live.receiver import LiveReceiver
from tickaccel.live.sinks import BookSink, TableSink

SENDER_CORE, RECEIVER_CORE = 0, 1


def send(feed: Path, port: int, rate: str, times_path: Path) -> None:
    """The sender (--send): `tickaccel publish` of `feed` at `rate` messages/s ("max": no
    pacing) in bursts of at most 50 µs, re-request server on `port` + 1; saves (first
    sequence, count, send time ns) per data datagram."""
    from tickaccel.live.player import Publisher

    sent: list[tuple[int, int, int]] = []

    class TimedPublisher(Publisher):
        def _emit(self, packet: bytes) -> None:
            sent.append((int.from_bytes(packet[10:18], "big"), int.from_bytes(packet[18:20], "big"),
                         time.time_ns()))
            super()._emit(packet)

    publisher = TimedPublisher.from_file(feed, ("127.0.0.1", port),
                                         rate=None if rate == "max" else float(rate),
                                         rerequest_port=port + 1, linger=1.0,
                                         burst_seconds=50e-6)
    try:
        publisher.run()
    finally:
        publisher.close()
    np.save(times_path, np.array(sent, np.int64).T)


def subscribe(endpoint: str, times_path: Path, timeout: float) -> None:
    """The subscriber (--subscribe): (record seq, receive time ns) of every record until the
    end of the stream; prints "ready" once connected. `endpoint` is a ZeroMQ endpoint, or
    ``ring:PATH``, the receiver's shared-memory ring, polled without sleeping."""
    seqs, times = [], []

    def note(records: np.ndarray) -> None:
        now = time.time_ns()
        seqs.append(records["seq"].astype(np.int64))
        times.append(np.full(len(records), now, np.int64))

    deadline = time.monotonic() + timeout
    if endpoint.startswith("ring:"):
        from tickaccel.live.shm_ring import BboRingReader

        reader = BboRingReader(endpoint[len("ring:"):])
        print("ready", flush=True)
        while time.monotonic() < deadline:
            ended = reader.ended  # looked at first: records written before it are in
            if len(records := reader.read()):
                note(records)
            elif ended:
                break
            else:
                time.sleep(0)
        lost = reader.lost
        reader.close()
    else:
        from tickaccel.live.zmq_bus import BboSubscriber

        sub = BboSubscriber(endpoint, hwm=1_000_000)
        print("ready", flush=True)
        while not sub.ended and time.monotonic() < deadline:
            records = sub.receive(100)
            if records is not None:
                note(records)
        lost = sub.lost_batches
        sub.close()
    seqs = np.concatenate(seqs) if seqs else np.zeros(0, np.int64)
    times = np.concatenate(times) if times else np.zeros(0, np.int64)
    np.save(times_path, np.stack([seqs, times, np.full(len(seqs), lost)]))


def _rcvbuf_errors() -> int:
    """UDP datagrams the kernel dropped for a full socket buffer, since boot."""
    names, values = (line.split() for line in Path("/proc/net/snmp").read_text().splitlines()
                     if line.startswith("Udp:"))
    return int(values[names.index("RcvbufErrors")])


def _free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentiles_us(values: np.ndarray) -> dict:
    if not len(values):
        return {"p50": None, "p99": None, "p99.9": None, "max": None}
    p50, p99, p999 = np.percentile(values, [50, 99, 99.9]) / 1000
    return {"p50": round(p50, 1), "p99": round(p99, 1), "p99.9": round(p999, 1),
            "max": round(values.max() / 1000, 1)}


def run_rate(feed: Path, messages: int, rate: str, outdir: Path, timeout: float,
             receiver_options: dict, ring: bool) -> dict:
    script = [sys.executable, str(Path(__file__).resolve())]
    outdir.mkdir(parents=True)
    endpoint = f"tcp://127.0.0.1:{_free_tcp_port()}"
    if ring:  # the subscriber reads the shared-memory ring; ZeroMQ still publishes
        receiver_options = {**receiver_options, "shm": outdir / "bbo.ring"}
    receiver = LiveReceiver(("127.0.0.1", 0), outdir, pub=endpoint, **receiver_options)
    if ring:
        endpoint = f"ring:{outdir / 'bbo.ring'}"
    port = receiver.address[1]
    receiver.rerequest = ("127.0.0.1", port + 1)
    sub_times, send_times = outdir / "sub.npy", outdir / "send.npy"
    subscriber = subprocess.Popen(script + ["--subscribe", endpoint, "--times", str(sub_times),
                                            "--timeout", str(timeout)], stdout=subprocess.PIPE,
                                  text=True)
    assert subscriber.stdout.readline().strip() == "ready"
    time.sleep(0.5)  # the SUB connects before the first frame
    result: dict = {}

    def receive() -> None:
        os.sched_setaffinity(0, {RECEIVER_CORE})  # this thread: the receive loop's
        result.update(receiver.run(duration=timeout))

    drops_before, usage = _rcvbuf_errors(), resource.getrusage(resource.RUSAGE_SELF)
    thread = threading.Thread(target=receive)
    thread.start()
    time.sleep(0.3)
    sender = subprocess.Popen(script + ["--send", str(feed), "--port", str(port), "--rate", rate,
                                        "--times", str(send_times)],
                              preexec_fn=lambda: os.sched_setaffinity(0, {SENDER_CORE}))
    sender.wait(timeout=timeout)
    thread.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    subscriber.wait(timeout=60)
    firsts, counts, sent = np.load(send_times)
    seqs, received, lost = np.load(sub_times)
    packet = np.searchsorted(firsts, seqs, side="right") - 1
    end_to_end = received - sent[packet]
    send_seconds = (sent[-1] - sent[0]) / 1e9
    process_cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    stages = {stage: {k: row[f"{k}_us"] for k in ("p50", "p99", "p99.9")}
              for stage, row in result["latency"].items()}
    loop = result.get("loop", "main (Python)") + "".join(
        note for flag, note in ((receiver_options.get("spin"), ", --spin"),
                                (ring, ", shm ring reader")) if flag)
    return {"rate": rate, "loop": loop, "sent": int(counts.sum()),
            "send_seconds": round(send_seconds, 2), "received": result["messages"],
            "gaps": result["gaps_detected"], "unrecovered": result["gaps_unrecovered"],
            "rerequests": result["rerequests"],
            "rcvbuf_errors": _rcvbuf_errors() - drops_before,
            # (a receiver from before its summary named rows as a replay's does: "bbo_rows")
            "records": len(seqs), "bbo_rows": result["rows"]["bbo"] if "rows" in result else result["bbo_rows"],
            "lost_batches": int(lost[0]) if len(lost) else 0,
            "end_to_end_us": _percentiles_us(end_to_end), "stages_us": stages,
            "loop_cpu_s_per_M": round(result["cpu_seconds"] / messages * 1e6, 3),
            "process_cpu_s_per_M": round(process_cpu / messages * 1e6, 3),
            "load_average": [round(v, 1) for v in os.getloadavg()]}


def markdown_row(row: dict) -> str:
    e2e, st = row["end_to_end_us"], row["stages_us"]
    rate = row["rate"] if row["rate"] == "max" else f"{int(row['rate']):,}".replace(",", " ")

    def us(v):
        return "–" if v is None else (f"{v / 1000:.2f} ms" if v >= 1000 else f"{v:.0f} µs")

    return (f"| {rate} | {row['loop']} | {row['send_seconds']} s | {row['received']} | "
            f"{row['gaps']} / {row['rcvbuf_errors']} | {us(e2e['p50'])} | {us(e2e['p99'])} | "
            f"{us(e2e['p99.9'])} | {us(e2e['max'])} | "
            + " | ".join(f"{us(st[s]['p50'])} / {us(st[s]['p99.9'])}"
                         for s in ("read", "book", "publish"))
            + f" | {row['loop_cpu_s_per_M']} / {row['process_cpu_s_per_M']} | "
            f"{row['load_average'][0]} |")


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
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--symbols", type=int, default=1000)
    parser.add_argument("--rates", default="100000,1000000,max")
    parser.add_argument("--spin", action="store_true", help="receiver busy-polls (--spin)")
    parser.add_argument("--ring", action="store_true",
                        help="the subscriber reads the shared-memory ring instead of ZeroMQ")
    parser.add_argument("--chunk-messages", type=int, default=10_000,
                        help="messages per chunk in the book-stage benchmark")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--no-shards", action="store_true",
                        help="skip part 2 (the book stage alone, in process and on Ray)")
    parser.add_argument("--send", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rate", help=argparse.SUPPRESS)
    parser.add_argument("--subscribe", help=argparse.SUPPRESS)
    parser.add_argument("--times", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.send:
        return send(args.send, args.port, args.rate, args.times)
    if args.subscribe:
        return subscribe(args.subscribe, args.times, args.timeout)
    options = {"spin": True} if args.spin else {}
    with tempfile.TemporaryDirectory() as tmp:
        feed = Path(tmp) / "bench.itch"
        write_binaryfile(feed, generate(args.messages, args.symbols, seed=1))
        print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, "
              f"{platform.python_implementation()} {platform.python_version()}, "
              f"feed {args.messages} messages, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        rows = []
        for rate in args.rates.split(","):
            row = run_rate(feed, args.messages, rate, Path(tmp) / f"out-{rate}", args.timeout,
                           options, args.ring)
            rows.append(row)
            print(json.dumps(row), flush=True)
        print("| rate (msg/s) | loop | sent in | applied | gaps / RcvbufErrors | end to end p50 "
              "| p99 | p99.9 | max | read p50 / p99.9 | book p50 / p99.9 | publish p50 / p99.9 "
              "| CPU s per M msgs (loop / process) | load |")
        print("|" + "---|" * 14)
        for row in rows:
            print(markdown_row(row))
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
