"""`replay`: the one entry point of batch replay, and the backends behind it.

A backend is a function ``replay_<name>(feed, outdir, *, progress=None, **options)`` in a
module of its own (`tickaccel.batch.cpu`, `.sim`, `.fpga`, `.cluster`) that writes
``OUTDIR/bbo.parquet`` (and what else it can) and returns the summary it writes to
``OUTDIR/summary.json`` (`tickaccel.batch.summary`). `BACKENDS` names each with the
options it takes, so `replay` refuses any other one with one clear error before a
book, a simulation or a board is started.
"""
from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tickaccel.errors import TickaccelError
from tickaccel.hw.params import BookParams

if TYPE_CHECKING:  # the fpga driver is imported only by the fpga backend
    from tickaccel.fpga.driver import FeedToBook

ENGINES = ("fast", "oracle")
# The options that say what is written; a backend without one refuses them all in one message.
OUTPUT_OPTIONS = ("engine", "depth", "trades", "symbols")

# progress(done, total or None when unknown): bytes read on cpu and cluster, frames sent on sim and fpga
Progress = Callable[[int, "int | None"], None]


@dataclass(frozen=True)
class ReplayBackend:
    """A batch replay backend: its function, the options of `replay` it takes, how it is asked for."""

    name: str
    function: str  # "module:function", imported when used: sim needs cocotb, cluster Ray, fpga a board
    options: frozenset[str]
    switch: str  # the command-line option that chooses it
    refusal: str = ""  # the error for an output option it cannot honour

    def run(self, feed, outdir: str | os.PathLike, **options) -> dict:
        module, _, function = self.function.partition(":")
        return getattr(importlib.import_module(module), function)(feed, outdir, **options)


BACKENDS: dict[str, ReplayBackend] = {b.name: b for b in (
    ReplayBackend("cpu", "tickaccel.batch.cpu:replay_cpu", frozenset(OUTPUT_OPTIONS), "--backend cpu"),
    ReplayBackend("sim", "tickaccel.batch.sim:replay_sim", frozenset({"depth", "simulator", "params"}),
                  "--backend sim", "--backend sim writes the whole bbo.parquet (and depth.parquet "
                                   "with --depth): drop --trades, --symbols and --engine"),
    ReplayBackend("fpga", "tickaccel.batch.fpga:replay_fpga", frozenset({"bitstream", "device"}),
                  "--backend fpga", "--backend fpga writes the whole bbo.parquet only: "
                                    "drop --depth, --trades, --symbols and --engine"),
    ReplayBackend("cluster", "tickaccel.batch.cluster:replay_cluster",
                  frozenset({"depth", "trades", "symbols", "cluster", "workers"}),
                  "--cluster", "--cluster runs the fast cpu book; drop --backend and --engine"),
)}


def replay(feed: str | os.PathLike | Sequence[str | os.PathLike], outdir: str | os.PathLike, *,
           backend: str = "cpu", engine: str = "fast", depth: int = 0, trades: bool = False,
           symbols: Sequence[str] | None = None, simulator: str | None = None,
           params: BookParams | None = None, bitstream: str | os.PathLike | None = None,
           device: FeedToBook | None = None, cluster: str | None = None, workers: int | None = None,
           progress: Progress | None = None) -> dict:
    """Replay `feed` into ``OUTDIR/{bbo,depth,trades}.parquet`` and ``OUTDIR/summary.json``; returns the summary.

    backend: ``cpu`` (the `engine` book, ``fast`` or ``oracle``, here), ``sim`` (feed_to_book
    under cocotb with `simulator`, sized by `params`), ``fpga`` (feed_to_book on the PYNQ
    board with `bitstream`, or on `device`, an open `tickaccel.fpga.FeedToBook`) or
    ``cluster`` (the fast book on Ray at `cluster`, ``local`` by default, with `workers`,
    sharded by file and symbol; `cluster` given with the cpu backend means this too).
    depth: also write the top `depth` levels; trades: also write E, C, P and Q; symbols:
    only rows of these. The cluster also takes a list of feeds, each written into
    ``OUTDIR/<file name>/``. Raises `TickaccelError` for an option the backend does not
    take, `BackendUnavailable` when what it needs is missing.
    """
    if engine not in ENGINES:
        raise TickaccelError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    if backend not in BACKENDS:
        raise TickaccelError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if cluster is not None:
        if backend not in ("cpu", "cluster"):
            raise TickaccelError(BACKENDS["cluster"].refusal)
        backend = "cluster"
    chosen = BACKENDS[backend]
    given = {name: value for name, value in (
        ("engine", engine), ("depth", depth), ("trades", trades), ("symbols", symbols),
        ("simulator", simulator), ("params", params), ("bitstream", bitstream), ("device", device),
        ("cluster", cluster), ("workers", workers)) if value != _DEFAULTS[name]}
    refused = [name for name in given if name not in chosen.options]
    if any(name in OUTPUT_OPTIONS for name in refused):
        raise TickaccelError(chosen.refusal)
    if refused:
        owner = next(b for b in BACKENDS.values() if refused[0] in b.options)
        raise TickaccelError(f"--{refused[0]} goes with {owner.switch}, not {chosen.switch}")
    if chosen.name != "cluster" and not isinstance(feed, (str, os.PathLike)):
        raise TickaccelError(f"backend {chosen.name!r} replays one feed at a time; the cluster takes several")
    return chosen.run(feed, outdir, progress=progress, **given)


_DEFAULTS = {name: p.default for name, p in inspect.signature(replay).parameters.items()
             if p.kind is inspect.Parameter.KEYWORD_ONLY}


def feed_outdirs(outdir: str | os.PathLike, feeds: Sequence[str | os.PathLike]) -> list[Path]:
    """Where each feed's tables go: one feed straight into `outdir`, several each into a folder named after the file.

    Raises `TickaccelError` when two feeds would share a folder.
    """
    if len(feeds) == 1:
        return [Path(outdir)]
    targets = [Path(outdir) / Path(feed).name.split(".")[0] for feed in feeds]
    if len(set(targets)) < len(targets):
        raise TickaccelError("several feeds share a file name; give each its own name")
    return targets
