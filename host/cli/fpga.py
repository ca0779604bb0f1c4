"""`tickaccel fpga status|package|replay`: feed_to_book on a PYNQ board or on the simulated board."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import typer

from tickaccel.cli.console import console
from tickaccel.errors import BackendUnavailable, TickaccelError

fpga_app = typer.Typer(help="Run feed_to_book on a PYNQ board (or the simulated board); package it for a board.",
                       no_args_is_help=True, rich_markup_mode=None)

_BACKEND_HELP = "fpga (a PYNQ board) or sim (the RTL under cocotb, same driver)."
_BITSTREAM_HELP = "feed_to_book.bit, with feed_to_book.hwh beside it (backend fpga)."
_BOARD_HELP = "Board whose overlay parameters the simulated board uses (backend sim)."


def _open(backend: str, bitstream: Path | None, board: str):
    from tickaccel.fpga import open_device

    return open_device(backend, bitstream=bitstream, board_name=board)


@fpga_app.command("status")
def status_command(
    backend: str = typer.Option("fpga", "--backend", help=_BACKEND_HELP),
    bitstream: Path = typer.Option(None, "--bitstream", help=_BITSTREAM_HELP),
    board: str = typer.Option("pynq-z2", "--board", help=_BOARD_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the registers as JSON."),
) -> None:
    """Print feed_to_book's counters and status registers by name."""
    from tickaccel.fpga import registers

    device = _open(backend, bitstream, board)
    try:
        values = {reg.name: device.read_register(reg.name) for reg in registers.REGISTERS
                  if reg.access in ("counter", "status", "ro")}
    finally:
        device.close()
    if as_json:
        typer.echo(json.dumps(values, indent=2))
        return
    from rich.table import Table

    table = Table("register", "value", "meaning", title=f"feed_to_book ({backend})")
    for name, value in values.items():
        table.add_row(name, f"{value:,}" if value < 1 << 31 else f"{value:#010x}",
                      registers.BY_NAME[name].description)
    console().print(table)


@fpga_app.command("package")
def package_command(
    outdir: Path = typer.Argument(..., help="Folder to fill with what the board needs."),
    bitstream: Path = typer.Option(..., "--bitstream", help=_BITSTREAM_HELP),
) -> None:
    """Gather the bitstream, its .hwh, a tickaccel wheel and instructions into OUTDIR for a board."""
    from tickaccel.fpga import require_bitstream

    try:
        bit = require_bitstream(bitstream)
    except BackendUnavailable as exc:
        raise TickaccelError(str(exc).replace("backend 'fpga': ", "")) from None
    outdir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(bit, outdir / "feed_to_book.bit")
    shutil.copy2(bit.with_suffix(".hwh"), outdir / "feed_to_book.hwh")
    wheel = _build_wheel(outdir)
    (outdir / "README.md").write_text(_BOARD_README.format(wheel=wheel.name))
    console().print(f"packaged feed_to_book.bit, feed_to_book.hwh, {wheel.name} and README.md in {outdir}",
                   highlight=False)


def _project_root() -> Path:
    """The source tree holding pyproject.toml (the package is installed editable from it)."""
    import tickaccel

    here = Path(tickaccel.__file__).resolve().parent.parent
    if not (here / "pyproject.toml").is_file():
        raise TickaccelError("tickaccel fpga package builds the wheel from the source tree; this "
                             "tickaccel is installed from a wheel: copy that wheel instead")
    return here


def _build_wheel(outdir: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="tickaccel-wheel-") as tmp:
        done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                               "-q", "-w", tmp, str(_project_root())], capture_output=True, text=True)
        if done.returncode != 0:
            raise TickaccelError(f"pip wheel failed: {done.stderr.strip().splitlines()[-1:]}")
        built = next(Path(tmp).glob("tickaccel-*.whl"))
        return Path(shutil.copy2(built, outdir / built.name))


_BOARD_README = """# tickaccel on a PYNQ board

Copy this folder to the board (PYNQ image: PYNQ-Z2, ZCU104, Kria KV260 with
Kria-PYNQ), then on the board:

    pip install --no-deps {wheel}
    pip install 'typer>=0.12' 'rich>=13' 'dpkt>=1.9.8'   # if the image lacks them
    tickaccel info                                       # backend fpga: present
    sudo -E tickaccel fpga status --bitstream feed_to_book.bit
    sudo -E tickaccel fpga replay feed.itch -o out --bitstream feed_to_book.bit

`--no-deps` keeps the image's own numpy and pyarrow: PYNQ pins numpy<2, and
pip must not replace it. numba is needed only by the CPU book
(`tickaccel replay --backend cpu`), not by `tickaccel fpga`. Keep
feed_to_book.bit and feed_to_book.hwh together: PYNQ reads the DMA and the
register map from the .hwh. Loading an overlay needs root (PYNQ's rule).
"""


@fpga_app.command("replay")
def replay_command(
    feed: Path = typer.Argument(..., help="Feed file: BinaryFILE (.gz or not), pcap or pcapng."),
    outdir: Path = typer.Option(..., "--output", "-o", help="Folder for bbo.parquet and summary.json."),
    backend: str = typer.Option("fpga", "--backend", help=_BACKEND_HELP),
    bitstream: Path = typer.Option(None, "--bitstream", help=_BITSTREAM_HELP),
    board: str = typer.Option("pynq-z2", "--board", help=_BOARD_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Replay FEED through feed_to_book into OUTDIR/bbo.parquet and summary.json."""
    from tickaccel.batch.fpga import replay_fpga
    from tickaccel.feed.source import feed_format

    feed_format(feed)  # unusable input fails before a board or a simulation is started
    device = _open(backend, bitstream, board)
    engine = f"fpga:{bitstream.name}" if backend == "fpga" else f"sim:{board}"
    try:
        summary = replay_fpga(feed, outdir, device=device, engine=engine)
    finally:
        device.close()
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    console().print(f"{summary['messages']:,} messages in {summary['elapsed_s']:.2f} s "
                   f"({summary['messages_per_s'] or 0:,.0f} msg/s) on {engine}; "
                   f"bbo rows {summary['rows']['bbo']:,} -> {outdir}", highlight=False, soft_wrap=True)
    for kind, info in summary["errors"].items():
        console().print(f"  {kind}: {info['count']:,}", highlight=False)
