"""`tickaccel export lobster|hftbacktest`: one symbol's book events as files research tools read."""
from __future__ import annotations

from pathlib import Path

import typer

export_app = typer.Typer(help="Export one symbol's book events: LOBSTER CSV files or hftbacktest .npz.",
                         no_args_is_help=True, rich_markup_mode=None)

_FEED = typer.Argument(..., help="ITCH 5.0 feed: BinaryFILE (.gz too), pcap or pcapng.")
_SYMBOL = typer.Option(..., "--symbol", "-s", help="The symbol to export.")
_DATE = typer.Option(..., "--date", help="The feed's trading date, YYYY-MM-DD (ITCH timestamps "
                                         "count from its midnight in America/New_York).")
_FROM = typer.Option(None, "--from", help="Only events stamped at or after this time of day "
                                          "(HH:MM[:SS[.fraction]]); the book is still built from "
                                          "the feed's start.")
_TO = typer.Option(None, "--to", help="Only events stamped at or before this time of day.")


def lobster_command(
    feed: Path = _FEED,
    symbol: str = _SYMBOL,
    outdir: Path = typer.Option(..., "--output", "-o", help="Folder for the two CSV files."),
    date: str = _DATE,
    levels: int = typer.Option(10, "--levels", "-n", min=1,
                               help="Price levels per side in the orderbook file."),
    start: str = _FROM,
    end: str = _TO,
) -> None:
    """Write SYMBOL's LOBSTER message and orderbook files (TICKER_date_start_end_message_N.csv, ...)."""
    from tickaccel.batch.export import export_lobster

    _report(export_lobster(feed, symbol, outdir, date=date, levels=levels, start=start, end=end))


def hftbacktest_command(
    feed: Path = _FEED,
    symbol: str = _SYMBOL,
    path: Path = typer.Option(..., "--output", "-o", help="The .npz file to write (key 'data'); with "
                                                          "--from it opens with the resting orders then."),
    date: str = _DATE,
    latency_ns: int = typer.Option(0, "--latency-ns", min=0,
                                   help="Feed latency: local_ts is exch_ts plus this many ns."),
    start: str = _FROM,
    end: str = _TO,
) -> None:
    """Write SYMBOL's market-by-order (L3) events in hftbacktest's event format (.npz)."""
    from tickaccel.batch.export import export_hftbacktest

    _report(export_hftbacktest(feed, symbol, path, date=date, latency_ns=latency_ns,
                               start=start, end=end))


export_app.command("lobster")(lobster_command)
export_app.command("hftbacktest")(hftbacktest_command)


def _report(result) -> None:
    from rich.console import Console

    console = Console(highlight=False)
    console.print(f"{result.rows:,} events from {result.records:,} records written to:")
    for path in result.paths:
        console.print(f"  {path}", markup=False, soft_wrap=True)
    if result.errors.total():
        counted = ", ".join(f"{kind} {count:,}" for kind, count in sorted(result.errors.counts.items()))
        console.print(f"input problems counted and skipped: {counted}", style="yellow", markup=False)
