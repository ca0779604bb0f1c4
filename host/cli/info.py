"""`tickaccel info` (version and the backends this machine has) and `tickaccel warmup`."""
from __future__ import annotations

import json
import platform

import typer

from tickaccel.backends import discover


def info_command(as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON.")) -> None:
    """Print the tickaccel version and each backend, present or absent and why."""
    from tickaccel import __version__

    found = discover()
    native = _native_kernels()
    if as_json:
        print(json.dumps({
            "version": __version__,
            "python": platform.python_version(),
            "backends": {n: {"present": b.present, "detail": b.detail} for n, b in found.items()},
            "native_replay_kernels": native,
        }, indent=2))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    console.print(f"tickaccel {__version__} (Python {platform.python_version()})")
    table = Table("backend", "present", "detail")
    for b in found.values():
        table.add_row(b.name, "[green]yes[/green]" if b.present else "[red]no[/red]", escape(b.detail))
    console.print(table)
    console.print("replay kernels: native, built for this source" if native else
                  "replay kernels: through Numba (`tickaccel warmup` builds them native; it needs a C compiler)")


def _native_kernels() -> bool:
    """Whether the replay's kernels are built native for this source (`tickaccel.native`)."""
    from tickaccel import native
    from tickaccel.book import fast
    from tickaccel.feed import binaryfile

    del fast, binaryfile  # imported to register their kernels (without importing Numba)

    return native.built()


def warmup_command() -> None:
    """Compile and cache every CPU kernel now (readers, books, signals), so no later run waits for it."""
    import tempfile
    import time
    from pathlib import Path

    from tickaccel.batch.cpu import replay_tables
    from tickaccel.book.book import book_at
    from tickaccel.book.fast import FastBook
    from tickaccel.errors import ErrorLog
    from tickaccel.feed.source import open_feed
    from tickaccel.feed.generator import GeneratorConfig, write_feed
    from tickaccel.jit import CompileWatch
    from tickaccel.kernels import compute, default_spec
    from rich.console import Console

    console = Console(highlight=False)
    started = time.perf_counter()
    with CompileWatch(lambda: console.print("compiling the Numba kernels (once per machine)...")) as watch, \
            tempfile.TemporaryDirectory() as work:
        config = GeneratorConfig(n_messages=5_000, n_symbols=10, seed=1)
        for name in ("feed.itch", "feed.itch.gz", "feed.pcap", "feed.pcapng"):
            write_feed(Path(work) / name, config)
            tables = replay_tables(Path(work) / name, depth=5, trades=True)
        replay_tables(Path(work) / "feed.itch", threads=2)  # the router of --threads
        grown = FastBook(order_capacity=2, level_pool=8)  # growing orders and levels
        for chunk in open_feed(Path(work) / "feed.itch", errors=ErrorLog()):
            grown.process(chunk)
        compute(tables["bbo"], default_spec(), "cpu", depth=tables["depth"], trades=tables["trades"])
        book = book_at(Path(work) / "feed.itch", "12:00")
        book.orders(book.symbols[0])
    if watch.compiled:
        console.print(f"compiled {watch.compiled} kernels in {watch.seconds:.1f} s; they are cached for "
                      f"every later run ({time.perf_counter() - started:.1f} s in all)")
    else:
        console.print(f"every kernel was compiled already (loaded in {time.perf_counter() - started:.1f} s)")
    _build_native(console)


def _build_native(console) -> None:
    """The replay path's kernels as one native module (`tickaccel.native`), unless built for
    this source already; without a C compiler, say what that costs and go on."""
    import time

    from tickaccel import native

    if native.built():
        console.print("the native replay kernels are built for this source already")
        return
    started = time.perf_counter()
    console.print("building the replay kernels ahead of time (once per source version)...")
    try:
        path = native.build()
    except Exception as exc:  # no compiler, no Python headers: Numba's cache still serves
        console.print(f"not built ({type(exc).__name__}: {exc}); replays load the kernels through "
                      "Numba instead, about 0.3 s more at every start")
        return
    console.print(f"built {path.name} in {time.perf_counter() - started:.1f} s")
