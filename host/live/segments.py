"""Numbered Parquet segments of the published records, written by a child process from shared memory.

The receiver only copies records into a spool; the child (`write_segments`)
builds the BBO table and writes the file, so Parquet never holds the
receiver's GIL. `read_segments` reads a run's segments back as one table.
"""
from __future__ import annotations

import mmap
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tickaccel.live.wire import BBO_RECORD, record_bytes, records_table
from tickaccel.schema.tables import BBO_SCHEMA


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _spool(fd: int, rows: int, writable: bool) -> tuple[mmap.mmap, np.ndarray]:
    """The two spools of `rows` records in the shared memory file `fd`, as a (2, rows) array."""
    memory = mmap.mmap(fd, 2 * rows * BBO_RECORD.itemsize,
                       prot=mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0))
    return memory, np.frombuffer(memory, BBO_RECORD).reshape(2, rows)


def write_segments(fd: int, rows: int) -> None:
    """The segment writer process (`SegmentWriter` starts it): turn each spool it is handed
    into a Parquet file.

    Reads jobs ``spool count path`` from stdin, one a line, and answers each
    with ``done spool`` when the file is complete; at the end of its input it
    answers with ``cpu SECONDS``. Runs at the lowest CPU priority, so on a busy
    machine it writes in the receiver's idle time.
    """
    os.nice(19)
    memory, spools = _spool(fd, rows, writable=False)
    out = sys.stdout.buffer
    try:
        for line in sys.stdin.buffer:
            index, count, path = line.decode().rstrip("\n").split(" ", 2)
            part = path + ".part"  # readers of the folder never see half a segment
            pq.write_table(records_table(spools[int(index)][:int(count)]), part)
            os.replace(part, path)
            out.write(f"done {index}\n".encode())
            out.flush()
        out.write(f"cpu {_cpu_seconds()}\n".encode())
        out.flush()
    except BrokenPipeError:  # the receiver is gone (killed): nothing left to report
        pass
    finally:
        del spools  # the view must go before the mapping closes
        memory.close()


_WRITER_COMMAND = ("import sys; from tickaccel.live.segments import write_segments; "
                   "write_segments(int(sys.argv[1]), int(sys.argv[2]))")


class SegmentWriter:
    """Numbered Parquet segments of the published records, written by a child process.

    The receiver copies each batch's records into one of two spools in shared
    memory; a full spool (or one open `segment_seconds`) goes to the writer
    process, which builds the BBO table and writes it, while the receiver
    fills the other. Writing never holds the receiver's GIL. When both spools
    wait for the writer, the receiver waits: the segments are the record of
    the session and are never dropped. The memory is an anonymous memfd
    handed to the child, so a killed receiver leaves nothing behind.
    """

    def __init__(self, outdir: Path, segment_rows: int, segment_seconds: float) -> None:
        self.outdir = outdir
        self.segment_rows = segment_rows
        self.segment_seconds = segment_seconds
        self.files: list[str] = []
        self.rows = 0
        self.cpu_seconds = 0.0
        fd = os.memfd_create("tickaccel-segments")
        try:
            os.ftruncate(fd, 2 * segment_rows * BBO_RECORD.itemsize)
            self._memory, spools = _spool(fd, segment_rows, writable=True)
            self._spools = spools.view(np.uint8).reshape(2, segment_rows, BBO_RECORD.itemsize)
            self._process = subprocess.Popen(
                [sys.executable, "-c", _WRITER_COMMAND, str(fd), str(segment_rows)],
                pass_fds=(fd,), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        finally:
            os.close(fd)  # the mappings keep the memory
        self._busy = [False, False]
        self._current = 0
        self._filled = 0
        self._started = time.monotonic()

    def add(self, records: np.ndarray) -> None:
        """Spool records: BBO_RECORD, or their bytes as (rows, 56) uint8 (a ring's slots)."""
        rows = records if records.dtype == np.uint8 else record_bytes(records)
        done = 0
        while done < len(rows):
            if self._filled == self.segment_rows:
                self.cut()
            k = min(len(rows) - done, self.segment_rows - self._filled)
            self._spools[self._current, self._filled:self._filled + k] = rows[done:done + k]
            self._filled += k
            done += k

    def cut_if_due(self, now: float) -> None:
        """Cut the segment when it has been open `segment_seconds` (`now`: time.monotonic)."""
        if now - self._started >= self.segment_seconds:
            self.cut()

    def cut(self) -> None:
        """Hand the filled spool to the writer as the next segment; wait for the other one."""
        self._started = time.monotonic()
        if not self._filled:
            return
        path = self.outdir / f"bbo-{len(self.files):06d}.parquet"
        self.files.append(path.name)
        self.rows += self._filled
        self._process.stdin.write(f"{self._current} {self._filled} {path}\n".encode())
        self._process.stdin.flush()
        self._busy[self._current] = True
        self._current ^= 1
        self._filled = 0
        while self._busy[self._current]:  # answers come in order: the older spool's first
            self._answer()

    def _answer(self) -> str:
        """Read one answer of the writer; a finished spool is free again."""
        line = self._process.stdout.readline().decode()
        if not line:
            raise RuntimeError(f"segment writer died (exit code {self._process.wait()})")
        kind, value = line.split()
        if kind == "done":
            self._busy[int(value)] = False
        return line

    @property
    def depth(self) -> int:
        """Segments handed to the writer and not known to be written yet."""
        return sum(self._busy)

    def close(self) -> None:
        """Write everything pending, wait for the writer, release the spools."""
        try:
            self.cut()
            self._process.stdin.close()
            while not (answer := self._answer()).startswith("cpu"):
                pass
            self.cpu_seconds = float(answer.split()[1])
            # Every segment is written; what is left is the exit of a nice-19 process, which
            # a loaded machine can hold up for many seconds: wait long, then end it.
            try:
                self._process.wait(60)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        finally:
            del self._spools  # the view must go before the mapping closes
            self._memory.close()


def read_segments(outdir: str | Path) -> pa.Table:
    """All BBO segments of a live run, in order, as one table."""
    files = sorted(Path(outdir).glob("bbo-*.parquet"))
    if not files:
        return BBO_SCHEMA.empty_table()
    return pa.concat_tables([pq.read_table(f) for f in files])
