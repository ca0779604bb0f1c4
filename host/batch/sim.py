"""The simulated hardware as a replay backend: a feed through `feed_to_book` in RTL simulation.

`replay_sim` frames the feed as the wire carries it (MoldUDP64 in UDP/IPv4/
Ethernet; a pcap's frames as they are), streams it through ``feed_to_book``
under cocotb (Icarus or Verilator), decodes the BBO update records with
`tickaccel.fpga.bbo_stream` and writes ``bbo.parquet`` (and ``depth.parquet`` with
`depth`, from the book's top-N output) and ``summary.json`` as
`tickaccel.batch.replay` does, with the RTL's counters read over AXI-Lite.
Slow (tens of thousands of messages a second): it checks the hardware on
real feeds, it does not replace the CPU book.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

from tickaccel.schema import itch
from tickaccel.errors import BackendUnavailable, ErrorLog, TickaccelError
from tickaccel.feed.source import feed_format, open_feed
from tickaccel.feed.moldudp64 import build_packets

SESSION = "TICKACCEL1"
DEST_IP = "233.54.12.111"
DEST_PORT = 26400
# progress(frames sent, total frames)
Progress = Callable[[int, int], None]
_ERROR_COUNTERS = ("unknown_order_ref", "duplicate_order_ref", "overfill", "zero_share_add",
                   "order_store_full", "level_store_full", "locate_out_of_range")


def _frames(feed_path: str | os.PathLike, fmt: str, errors: ErrorLog) -> tuple[list[bytes], str, int]:
    """The Ethernet frames to send, and the destination IP and port to accept."""
    if fmt.startswith("pcap"):
        from tickaccel.feed.capture import _open_reader  # the capture module's pcap/pcapng reader

        with open(feed_path, "rb") as stream:
            frames = [bytes(frame) for _, frame in _open_reader(stream, feed_path)]
        return frames, *_destination(frames)
    from tickaccel.feed.capture import udp_frame

    data = b"".join(bytes(chunk.data) for chunk in open_feed(feed_path, errors=errors))
    packets = build_packets(data, SESSION, first_seq=1)
    return [udp_frame(p, dst_ip=DEST_IP, dst_port=DEST_PORT, ident=i) for i, p in enumerate(packets)], \
        DEST_IP, DEST_PORT


def _destination(frames: list[bytes]) -> tuple[str, int]:
    """Destination IPv4 address and UDP port of the first UDP frame of a capture."""
    for frame in frames:
        ip = 18 if frame[12:14] == b"\x81\x00" else 14
        if len(frame) >= ip + 28 and frame[ip - 2:ip] == b"\x08\x00" and frame[ip + 9] == 17:
            udp = ip + 4 * (frame[ip] & 0x0F)
            return ".".join(str(b) for b in frame[ip + 16:ip + 20]), int.from_bytes(frame[udp + 2:udp + 4], "big")
    return DEST_IP, DEST_PORT


def _simulator(simulator: str | None) -> str:
    from tickaccel.sim import runner

    found = runner.available_simulators()
    if simulator is None:
        if not found:
            raise BackendUnavailable("backend 'sim' needs an HDL simulator: install iverilog "
                                     "(Icarus Verilog) or verilator")
        return found[0]
    if simulator not in found:
        raise BackendUnavailable(f"backend 'sim' asked for simulator {simulator!r}, which is not "
                                 f"installed (found: {', '.join(found) or 'none'})")
    return simulator


def replay_sim(feed_path: str | os.PathLike, outdir: str | os.PathLike, *,
               simulator: str | None = "icarus", progress: Progress | None = None,
               params=None, depth: int = 0) -> dict:
    """Replay `feed_path` through the simulated `feed_to_book` into OUTDIR/bbo.parquet and summary.json.

    `params` is a `tickaccel.sim.book_model.BookParams` (the RTL's defaults when None).
    `depth` > 0 builds the book with that many levels per side in its output
    (DEPTH_OUT, at most the book's TOP_N) and writes OUTDIR/depth.parquet too.
    Raises `BackendUnavailable` when the simulator is not installed.
    """
    simulator = _simulator(simulator)
    try:
        from tickaccel.sim import book_runner, model
        from tickaccel.sim.book_model import BookParams
    except ImportError as exc:  # cocotb and cocotbext are the 'sim' extra
        raise BackendUnavailable(f"backend 'sim' needs the 'sim' extra (cocotb, cocotbext-axi): {exc}") from None
    from tickaccel.fpga.bbo_stream import decode

    params = dataclasses.replace(params or BookParams(), depth_out=depth)
    if not 0 <= depth <= params.top_n:
        raise TickaccelError(f"depth must be 0..{params.top_n} (the book's TOP_N) on backend 'sim', got {depth}")
    fmt = feed_format(feed_path)
    errors = ErrorLog()
    started = time.perf_counter()
    frames, dest_ip, dest_port = _frames(feed_path, fmt, errors)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tickaccel-sim-") as tmp:
        work = Path(tmp)
        model.write_stimulus(work / "frames.pkl", [model.Frame(f) for f in frames])
        env = {"TB_STIMULUS": str(work / "frames.pkl"), "TB_OUTPUT": str(work / "records.bin"),
               "TB_COUNTERS": str(work / "counters.json"), "TB_PROGRESS": str(work / "progress"),
               "TB_DEST_IP": dest_ip, "TB_DEST_PORT": str(dest_port),
               "TB_PARAMS": json.dumps(dataclasses.asdict(params))}
        done = threading.Event()
        watcher = threading.Thread(target=_watch_progress, args=(work / "progress", progress, done),
                                   daemon=True)
        watcher.start()
        try:
            # The simulator's chatter goes to OUTDIR/sim.log, not the user's terminal.
            book_runner.run("feed_to_book", "tb_feed_to_book", params.verilog(), env=env,
                            simulator=simulator, testcase="test_replay",
                            log_file=out / "sim.log")
        except AssertionError as exc:
            raise TickaccelError(f"the simulation of feed_to_book failed ({exc}); "
                                 f"see {out / 'sim.log'}") from None
        finally:
            done.set()
            watcher.join()
        decoded = decode((work / "records.bin").read_bytes(), depth)
        counters = json.loads((work / "counters.json").read_text())
    pq.write_table(decoded.bbo, out / "bbo.parquet", compression="zstd")
    rows, outputs = {"bbo": decoded.bbo.num_rows}, {"bbo": str(out / "bbo.parquet")}
    if depth:
        pq.write_table(decoded.depth, out / "depth.parquet", compression="zstd")
        rows["depth"], outputs["depth"] = decoded.depth.num_rows, str(out / "depth.parquet")
    elapsed = time.perf_counter() - started
    for kind in _ERROR_COUNTERS:
        errors.add(kind, -1, counters["book"][kind])  # the RTL counts; it does not keep positions
    message_counts = {mtype: counters["feed"][f"msgs_{name}"]
                      for mtype, (name, _) in itch.MESSAGES.items() if counters["feed"][f"msgs_{name}"]}
    messages = sum(message_counts.values())
    summary = {
        "input": os.fspath(feed_path),
        "format": fmt,
        "engine": f"sim:{simulator}",
        "messages": messages,
        "message_counts": dict(sorted(message_counts.items())),
        "rows": rows,
        "outputs": outputs,
        "elapsed_s": round(elapsed, 6),
        "messages_per_s": round(messages / elapsed, 1) if elapsed > 0 else None,
        "errors": errors.to_dict(),
        "stale_symbols": {str(k): v for k, v in sorted(decoded.stale.items())},
        "rtl": {"parameters": params.verilog(), "counters": counters},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _watch_progress(path: Path, progress: Progress | None, done: threading.Event) -> None:
    """Relay the testbench's progress file (frames sent, total) to `progress` until `done`."""
    if progress is None:
        return
    finished = False
    while not finished:
        finished = done.wait(0.5)  # one last read after the run, so the final count is seen
        try:
            sent, total = (int(v) for v in path.read_text().split())
        except (OSError, ValueError):
            continue
        progress(sent, total)
