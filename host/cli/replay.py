"""`tickaccel replay`, `dump` and `stats`: a feed file through the books, or read by a person."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from tickaccel.cli.console import console
from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.schema.units import PRICE_SCALE, format_time_of_day

# The library (NumPy, Numba, Arrow) is imported inside each command, so `--help` and a
# command's option errors do not wait for it.



def _print_errors(errors: dict[str, dict[str, int]]) -> None:
    for kind, info in errors.items():
        console().print(f"  {kind}: {info['count']:,} (first at {info['first_position']:,})",
                        highlight=False)


@contextmanager
def _progress_bar(as_json: bool) -> Iterator[Callable[[int, int | None], None]]:
    """A transient bar on a terminal (never with --json); yields the replay's progress callback."""
    if as_json or not console().is_terminal:  # no bar: Rich's progress module is not even loaded
        yield lambda done, total: None
        return
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn,
                               TransferSpeedColumn)

    with Progress(TextColumn("replay"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeElapsedColumn(), console=console(), transient=True) as bar:
        task = bar.add_task("replay", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def replay_command(
    feeds: list[Path] = typer.Argument(
        ..., help="Feed files: BinaryFILE (.gz or not), pcap or pcapng; several go each into "
                  "OUTDIR/<file name>/."),
    outdir: Path = typer.Option(..., "--output", "-o", help="Folder for the Parquet tables."),
    overwrite: bool = typer.Option(False, "--overwrite",
                                   help="Replace an earlier replay's files in the output folder "
                                        "(without it such a folder is refused)."),
    cluster: str = typer.Option(None, "--cluster",
                                help="Replay on Ray, sharded by file and symbol: 'local' or a "
                                     "Ray address such as ray://head:10001."),
    workers: int = typer.Option(None, "--workers",
                                help="With --cluster: CPUs of a local Ray and symbol shards per feed."),
    depth: int = typer.Option(0, "--depth", help="Also write depth.parquet with the top N levels."),
    trades: bool = typer.Option(False, "--trades",
                                help="Also write trades.parquet (E, C, P, Q and broken trades, B)."),
    printable_only: bool = typer.Option(False, "--printable-only",
                                        help="With --trades: only the trades that count in volume "
                                             "(no non-printable C, no B)."),
    symbols: str = typer.Option(None, "--symbols", help="Only rows of these symbols, e.g. AAPL,MSFT."),
    engine: str = typer.Option("fast", "--engine", help="fast (Numba) or oracle (plain Python)."),
    threads: int = typer.Option(1, "--threads",
                                help="Split the fast book by symbol over N threads (cpu backend); "
                                     "the same tables as one."),
    compression: str = typer.Option("zstd", "--compression",
                                    help="Of the Parquet tables: zstd, lz4 or none (cpu and --cluster)."),
    prices: str = typer.Option("int", "--prices",
                               help="int: Price(4) integers, 0 for no price (the books' own form); "
                                    "float: dollars, null for no price."),
    date: str = typer.Option(None, "--date",
                             help="Trading date YYYY-MM-DD: adds a timezone-aware 'time' column "
                                  "(America/New_York)."),
    dictionary: bool = typer.Option(False, "--dictionary",
                                    help="Dictionary-encode the symbol column (pandas reads a categorical)."),
    backend: str = typer.Option("cpu", "--backend",
                                help="cpu; sim: the feed_to_book RTL in cocotb simulation; "
                                     "fpga: feed_to_book on a PYNQ board."),
    simulator: str = typer.Option(None, "--simulator", help="icarus or verilator (--backend sim)."),
    bitstream: Path = typer.Option(None, "--bitstream",
                                   help="feed_to_book.bit with its .hwh beside it (--backend fpga)."),
    signals: bool = typer.Option(False, "--signals", help="Then compute signals.parquet."),
    signal_backend: str = typer.Option("auto", "--signal-backend",
                                       help="Signal backend for --signals (numpy, cpu, ..., auto)."),
    spec: Path = typer.Option(None, "--spec", help="Signal spec TOML for --signals."),
    show: int = typer.Option(0, "--show", help="Print the first N rows of bbo.parquet."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Replay FEEDS through the order books into OUTDIR/bbo.parquet (and depth, trades)."""
    from tickaccel.batch.backends import check_replay_paths, check_symbols, check_threads
    from tickaccel.book.oracle import check_depth
    from tickaccel.feed.source import check_input_file
    from tickaccel.schema.analysis import TableForm

    # Options, then every input and output, before any work: `replay` checks them again per feed.
    check_depth(depth)
    check_threads(threads, engine)
    TableForm.make(prices, date, dictionary)
    names = None if symbols is None else check_symbols(symbols.split(","))
    _refuse_switch_values(feeds)
    if spec is not None:
        check_input_file(spec)
    targets = check_replay_paths(feeds, outdir, overwrite)
    try:
        _replay_each(feeds, outdir, targets, cluster, signals, signal_backend, spec, show, as_json,
                     {"backend": backend, "engine": engine, "depth": depth, "trades": trades,
                      "printable_only": printable_only, "prices": prices, "date": date,
                      "dictionary": dictionary, "symbols": names, "compression": compression, "simulator": simulator,
                      "bitstream": bitstream, "cluster": cluster, "workers": workers,
                      "threads": threads})
    except KeyboardInterrupt as exc:  # a ReplayInterrupted says where its summary.json is
        # Typer would print a bare "Aborted!" and exit 1.
        raise _Interrupted(str(exc) or "interrupted") from None


class _Interrupted(TickaccelError):
    """Ctrl-C during a replay: one line and exit status 130, as for any interrupted command."""

    exit_code = 130


def _replay_each(feeds: list[Path], outdir: Path, targets: list[Path], cluster: str | None,
                 signals: bool, signal_backend: str, spec: Path | None, show: int, as_json: bool,
                 options: dict) -> None:
    """Replay every feed into its target folder (all at once on a cluster) and print each summary."""
    from tickaccel.batch.backends import replay
    from tickaccel.batch.summary import write_summary
    from tickaccel.jit import CompileWatch

    def compiling() -> None:
        if not as_json:
            console().print("compiling the Numba kernels: the first run on this machine only, not "
                            "counted in msg/s (`tickaccel warmup` does it ahead)", highlight=False)

    if cluster is not None:  # every feed at once, sharded over the cluster
        with _progress_bar(as_json) as progress:
            summary = replay(feeds, outdir, progress=progress, **options)
        _print_cluster_summary(summary, targets, as_json)
        return
    for feed, target in zip(feeds, targets):
        with _progress_bar(as_json) as progress, CompileWatch(compiling):
            summary = replay(feed, target, progress=progress, **options)
        if signals:
            from tickaccel.cli.signals import run_signals

            summary["signals"] = run_signals(target, signal_backend, spec)
            write_summary(target, summary)
        _print_summary(summary, target, as_json)
        if show > 0 and not as_json:
            _print_bbo_rows(target / "bbo.parquet", show)


# What a switch's value looks like when it was typed after a switch that takes none.
_SWITCH_VALUES = frozenset({"true", "false", "yes", "no", "on", "off", "1", "0"})


def _refuse_switch_values(feeds: list[Path]) -> None:
    """Name a feed argument that is no file but a value given to a switch (``--trades true``)."""
    for feed in feeds:
        if str(feed).lower() in _SWITCH_VALUES and not feed.exists():
            raise TickaccelError(f"no such file: {feed} (switches such as --trades and --signals "
                                 "take no value: drop it)")


def _print_cluster_summary(summary: dict, targets: list[Path], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    for (feed, result), target in zip(summary["feeds"].items(), targets):
        rows = ", ".join(f"{name} {n:,}" for name, n in result["rows"].items())
        console().print(f"{feed}: {result['messages']:,} messages; rows: {rows} -> {target}",
                       highlight=False, soft_wrap=True)
        _print_errors(result["errors"])


def _print_summary(summary: dict, outdir: Path, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    rows = ", ".join(f"{name} {n:,}" for name, n in summary["rows"].items())
    compiled = f", {summary['compile_s']:.1f} s of it compiling" if summary.get("compile_s") else ""
    console().print(f"{summary['messages']:,} messages in {summary['elapsed_s']:.2f} s{compiled} "
                   f"({summary['messages_per_s'] or 0:,.0f} msg/s); rows: {rows} -> {outdir}",
                   highlight=False, soft_wrap=True)
    missing = summary.get("symbols", {}).get("not_in_feed")
    if missing:
        report = summary["symbols"]
        console().print(f"warning: no rows for {', '.join(missing)}: not in the feed, which names "
                       f"{report['in_feed']:,} symbols (e.g. {', '.join(report['examples'])})",
                       style="yellow", highlight=False, markup=False, soft_wrap=True)
    if summary["errors"]:
        console().print("errors:", highlight=False)
        _print_errors(summary["errors"])
    if "signals" in summary:
        console().print(f"signals: {summary['signals']['rows']:,} rows -> "
                       f"{summary['signals']['path']}", highlight=False)


def _print_bbo_rows(path: Path, n: int) -> None:
    """The first rows of a BBO table, prices in dollars, as a person reads them."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from rich.table import Table

    shown = ["seq", "timestamp", "symbol", "bid_size", "bid_price", "ask_price", "ask_size"]
    first = next(pq.ParquetFile(path).iter_batches(batch_size=n, columns=shown), None)
    rows = first.to_pylist() if first is not None else []
    table = Table("seq", "time", "symbol", "bid size", "bid", "ask", "ask size",
                  title=f"first {len(rows)} BBO rows")
    in_dollars = pa.types.is_floating(first.schema.field("bid_price").type) if first is not None else False

    def price(value: int | float | None) -> str:
        if not value:  # 0 (or null in dollars): no price on that side
            return "-"
        return f"{value if in_dollars else value / PRICE_SCALE:.4f}"

    for r in rows:
        table.add_row(str(r["seq"]), format_time_of_day(r["timestamp"])[:15], str(r["symbol"]),
                      f"{r['bid_size']:,}", price(r["bid_price"]), price(r["ask_price"]),
                      f"{r['ask_size']:,}")
    console().print(table)


def _types(types: str | None) -> set[str] | None:
    from tickaccel.schema import itch

    if types is None:
        return None
    wanted = {t.strip() for t in types.split(",") if t.strip()}
    unknown = sorted(wanted - set(itch.MESSAGES))
    if unknown:
        raise TickaccelError(f"unknown message type(s) {', '.join(unknown)}")
    return wanted


def dump_command(
    feed: Path = typer.Argument(..., help="Feed file: BinaryFILE (.gz or not), pcap or pcapng."),
    types: str = typer.Option(None, "--type", help="Only these message types, e.g. A,E."),
    limit: int = typer.Option(None, "--limit", help="Stop after N messages."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """Print the messages of FEED with their sequence numbers."""
    from tickaccel.book.oracle import iter_messages
    from tickaccel.feed.source import feed_format, open_feed
    from tickaccel.schema import itch

    wanted = _types(types)
    feed_format(feed)
    errors, shown = ErrorLog(), 0
    for chunk in open_feed(feed, errors=errors):
        for seq, _, raw in iter_messages(chunk, errors):
            if limit is not None and shown >= limit:
                break
            msg = itch.decode_message(raw)
            if wanted is not None and msg.type not in wanted:
                continue
            shown += 1
            fields = msg._asdict()
            if as_json:
                typer.echo(json.dumps({"seq": seq, "type": msg.type, **fields}))
            else:
                body = " ".join(f"{k}={v}" for k, v in fields.items())
                typer.echo(f"{seq:>10} {msg.type} {msg.name:<28} {body}")
        if limit is not None and shown >= limit:
            break
    if errors.counts and not as_json:
        typer.echo("errors: " + ", ".join(f"{k} {v}" for k, v in sorted(errors.counts.items())),
                   err=True)


def stats_command(
    feed: Path = typer.Argument(..., help="Feed file: BinaryFILE (.gz or not), pcap or pcapng."),
    as_json: bool = typer.Option(False, "--json", help="Print the statistics as JSON."),
) -> None:
    """Count the messages of FEED per type, list its symbols and its input errors."""
    from tickaccel.batch.cpu import make_book
    from tickaccel.feed.source import feed_format, open_feed
    from tickaccel.schema import itch

    fmt = feed_format(feed)
    book = make_book("fast")
    feed_errors = ErrorLog()
    for chunk in open_feed(feed, errors=feed_errors):
        book.process(chunk)
    errors = ErrorLog()
    errors.merge(feed_errors)
    errors.merge(book.errors)
    counts = dict(sorted(book.message_counts.items()))
    stats = {"input": str(feed), "format": fmt, "records": book.records,
             "messages": sum(counts.values()), "message_counts": counts,
             "live_orders": book.live_orders,
             "symbols": {str(k): v for k, v in sorted(book.symbols.items())},
             "errors": errors.to_dict()}
    if as_json:
        typer.echo(json.dumps(stats, indent=2))
        return
    console().print(f"{fmt}: {stats['messages']:,} messages in {stats['records']:,} records, "
                   f"{len(stats['symbols']):,} symbols, {stats['live_orders']:,} orders live "
                   "at the end", highlight=False)
    for mtype, n in counts.items():
        console().print(f"  {mtype} {itch.MESSAGES[mtype][0]:<28} {n:>12,}", highlight=False)
    names = list(stats["symbols"].values())
    if names:
        more = f" ... (+{len(names) - 20:,})" if len(names) > 20 else ""
        console().print("symbols: " + " ".join(names[:20]) + more, highlight=False)
    if stats["errors"]:
        console().print("errors:", highlight=False)
        _print_errors(stats["errors"])
