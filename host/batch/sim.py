"""The sim backend: a feed through `feed_to_book` in RTL simulation.

`replay_sim` frames the feed as the wire carries it (`tickaccel.feed.framing`),
streams it through ``feed_to_book`` under cocotb (Icarus or Verilator), decodes the
BBO update records with `tickaccel.fpga.bbo_stream` and writes ``bbo.parquet`` (and
``depth.parquet`` with `depth`, from the book's top-N output) and ``summary.json`` as
the cpu backend does, with the RTL's counters read over AXI-Lite. Slow (tens of
thousands of messages a second): it checks the hardware on real feeds, it does not
replace the CPU book.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import tempfile
import threading
import time
from pathlib import Path

from tickaccel.batch.backends import Progress
from tickaccel.batch.summary import rtl_summary, write_summary, write_tables
from tickaccel.errors import BackendUnavailable, ErrorLog, TickaccelError
from tickaccel.feed.capture import write_pcap
from tickaccel.feed.framing import feed_frames
from tickaccel.feed.source import feed_format
from tickaccel.fpga.bbo_stream import decode
from tickaccel.hw.params import BookParams
from tickaccel.sim import book_runner, runner
from tickaccel.sim.job import ReplayJob


class SimulationFailed(RuntimeError):
    """The simulator ran and feed_to_book's testbench failed on a usable feed: a failed replay
    (`tickaccel.batch.replay` writes its summary.json), not unusable input."""


def _simulator(simulator: str | None) -> str:
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


def replay_sim(feed_path: str | os.PathLike, outdir: str | os.PathLike, *, depth: int = 0,
               simulator: str | None = None, params: BookParams | None = None,
               progress: Progress | None = None) -> dict:
    """Replay `feed_path` through the simulated `feed_to_book` into OUTDIR/bbo.parquet and summary.json.

    `simulator` is icarus or verilator (the first installed when None); `params` the
    book's build parameters (the RTL's defaults when None). `depth` > 0 builds the book
    with that many levels per side in its output (DEPTH_OUT, at most the book's TOP_N)
    and writes OUTDIR/depth.parquet too. `progress` gets (frames sent, total frames).
    Raises `BackendUnavailable` when the simulator or cocotb is not installed.
    """
    simulator = _simulator(simulator)
    if importlib.util.find_spec("cocotb") is None:  # cocotb and cocotbext-axi are the 'sim' extra
        raise BackendUnavailable("backend 'sim' needs the 'sim' extra (cocotb, cocotbext-axi): "
                                 "pip install 'tickaccel[sim]'")
    params = dataclasses.replace(params or BookParams(), depth_out=depth)
    if not 0 <= depth <= params.top_n:
        raise TickaccelError(f"depth must be 0..{params.top_n} (the book's TOP_N) on backend 'sim', got {depth}")
    fmt = feed_format(feed_path)
    errors = ErrorLog()
    started = time.perf_counter()
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tickaccel-sim-") as tmp:
        work = Path(tmp)
        wire = feed_frames(feed_path, fmt, errors)
        job = ReplayJob(frames=str(work / "frames.pcap"), output=str(work / "records.bin"),
                        counters=str(work / "counters.json"), progress=str(work / "progress"),
                        dest_ip=wire.dest_ip, dest_port=wire.dest_port, params=params)
        write_pcap(job.frames, wire.frames)
        done = threading.Event()
        watcher = threading.Thread(target=_watch_progress, args=(Path(job.progress), progress, done),
                                   daemon=True)
        watcher.start()
        try:
            # The simulator's chatter goes to OUTDIR/sim.log, not the user's terminal.
            book_runner.run("feed_to_book", "tb_feed_to_book", params.verilog(), plusargs=job.plusargs(),
                            simulator=simulator, testcase="test_replay", log_file=out / "sim.log")
        except AssertionError as exc:
            raise SimulationFailed(f"the simulation of feed_to_book failed ({exc}); "
                                   f"see {out / 'sim.log'}") from None
        finally:
            done.set()
            watcher.join()
        decoded = decode(Path(job.output).read_bytes(), depth)
        counters = json.loads(Path(job.counters).read_text())
    rows, outputs = write_tables(out, {"bbo": decoded.bbo, **({"depth": decoded.depth} if depth else {})})
    summary = rtl_summary(feed_path, fmt, f"sim:{simulator}", counters=counters, stale=decoded.stale,
                          rows=rows, outputs=outputs, elapsed=time.perf_counter() - started, errors=errors,
                          rtl={"parameters": params.verilog(), "counters": counters})
    write_summary(out, summary)
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
