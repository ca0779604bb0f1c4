"""The fpga backend: a feed through feed_to_book on a PYNQ board, or on the simulated board.

`replay_fpga` frames the feed as the wire carries it (`tickaccel.feed.framing`), sends
it through a `tickaccel.fpga.FeedToBook` in DMA batches, waits for the pipeline to
empty, decodes the BBO update records and writes ``bbo.parquet`` and ``summary.json``
as the cpu backend does, with the core's counters and the DMA's transfer counts.
"""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from tickaccel.batch.backends import Progress
from tickaccel.batch.summary import rtl_summary, write_summary, write_tables
from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.feed.framing import feed_frames
from tickaccel.feed.source import feed_format
from tickaccel.fpga import open_device
from tickaccel.fpga.bbo_stream import decode
from tickaccel.fpga.driver import FeedToBook


def replay_fpga(feed_path: str | os.PathLike, outdir: str | os.PathLike, *,
                bitstream: str | os.PathLike | None = None, device: FeedToBook | None = None,
                engine: str = "fpga", progress: Progress | None = None,
                drain_timeout_s: float = 30.0) -> dict:
    """Replay `feed_path` through feed_to_book into OUTDIR/bbo.parquet and summary.json.

    On `device` (an open `FeedToBook`, e.g. from ``open_device("sim")``, left open) or,
    without one, on the PYNQ board's overlay `bitstream` (opened and closed here).
    `engine` names the device in the summary; `progress` gets (frames sent, None).
    """
    if device is not None and bitstream is not None:
        raise TickaccelError("give backend 'fpga' a bitstream or an open device, not both")
    fmt = feed_format(feed_path)  # unusable input fails before a board is opened
    with contextlib.ExitStack() as opened:
        if device is None:
            device = open_device("fpga", bitstream=bitstream)
            opened.callback(device.close)
        errors = ErrorLog()
        started = time.perf_counter()
        wire = feed_frames(feed_path, fmt, errors)
        out = Path(outdir)
        out.mkdir(parents=True, exist_ok=True)
        device.configure(wire.dest_ip, wire.dest_port)
        device.send(wire.blocks, progress)
        device.drain(drain_timeout_s)
        decoded = decode(device.record_bytes())
        counters = device.counters()
        rows, outputs = write_tables(out, {"bbo": decoded.bbo})
        summary = rtl_summary(feed_path, fmt, engine, counters=counters, stale=decoded.stale, rows=rows,
                              outputs=outputs, elapsed=time.perf_counter() - started, errors=errors,
                              dma={"frames": device.frames_sent, "batches": device.batches_sent,
                                   "bytes_sent": device.bytes_sent, "records": device.records_received},
                              rtl={"counters": counters})
    write_summary(out, summary)
    return summary
