"""`tickaccel generate`: write a synthetic ITCH 5.0 feed (BinaryFILE or MoldUDP64 pcap)."""
from __future__ import annotations

from pathlib import Path

import typer

from tickaccel.cli.console import console
from tickaccel.errors import TickaccelError
from tickaccel.feed.endpoints import DEST_PORT



def generate_command(
    out: Path = typer.Argument(..., help="Output file: .itch, .itch.gz or .pcap."),
    messages: int = typer.Option(1_000_000, "--messages", "-n", help="Number of ITCH messages."),
    symbols: int = typer.Option(1000, "--symbols", help="Number of symbols (stock locates 1..N)."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same bytes."),
    format: str = typer.Option(None, "--format", help="itch, itch.gz or pcap (default: from the suffix)."),
    faults: str = typer.Option(None, "--faults",
                               help="Faults to inject, e.g. drop=0.01,duplicate=0.01,reorder=0.01,"
                                    "corrupt=0.005,truncate=0.005 (pcap) or zero_length=0.001,"
                                    "unknown_type=0.001,bad_length=0.001,truncate=1 (itch); "
                                    "listed in OUT.faults.json."),
    packet_messages: int = typer.Option(None, "--packet-messages", help="Most messages per MoldUDP64 packet."),
    packet_bytes: int = typer.Option(1400, "--packet-bytes", help="Most UDP payload bytes per packet."),
    rate: float = typer.Option(None, "--rate",
                               help="Messages per second of feed time (default: spread over 09:25-16:05)."),
    session: str = typer.Option("TICKACCEL", "--session", help="MoldUDP64 session name (10 chars max)."),
    port: int = typer.Option(DEST_PORT, "--port", help="UDP destination port of the feed."),
) -> None:
    """Generate a seeded, realistic synthetic feed and write it to OUT."""
    from tickaccel.feed.generator import write_feed
    from tickaccel.feed.market import GeneratorConfig

    config = GeneratorConfig(n_messages=messages, n_symbols=symbols, seed=seed, rate=rate)
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console(), transient=True, disable=not console().is_terminal) as progress:
        task = progress.add_task("starting", total=None)
        try:
            summary = write_feed(out, config, format=format, faults=faults, session=session, udp_port=port,
                                 packet_messages=packet_messages, packet_bytes=packet_bytes,
                                 progress=lambda stage: progress.update(task, description=stage))
        except ValueError as exc:  # impossible settings, e.g. too few messages for the symbols
            raise TickaccelError(str(exc)) from None
    line = (f"wrote {summary['path']}: {summary['messages']:,} messages, "
            f"{summary['symbols']} symbols, {summary['format']}")
    if "frames" in summary:
        line += f", {summary['packets']:,} packets in {summary['frames']:,} frames"
    if "sidecar" in summary:
        line += f"; {summary['faults']} faults listed in {summary['sidecar']}"
    console().print(line, highlight=False, soft_wrap=True)
