"""`tickaccel signals` and `tickaccel plot`: signal columns and pictures from a replay's tables.

Both read any folder a run leaves: a replay's (``bbo.parquet``, and ``depth``/``trades``
beside it, in either table form), a live run's (``bbo-*.parquet`` segments), or a
several-feed replay's (one such folder per feed inside it).
"""
from __future__ import annotations

import time
from pathlib import Path

import typer

from tickaccel.errors import BackendUnavailable, TickaccelError

QUOTE_SIGNALS = ("mid", "microprice", "spread", "imbalance")  # what the plot draws


def _read(path: Path):
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a non-Parquet file
        raise TickaccelError(f"cannot read {path} as Parquet: {exc}") from None


def _holds_bbo(folder: Path) -> bool:
    return (folder / "bbo.parquet").is_file() or any(folder.glob("bbo-*.parquet"))


def replay_folders(outdir: str | Path) -> list[Path]:
    """The folders under `outdir` that hold one feed's tables: `outdir` itself, or each feed's
    folder of a several-feed replay; raises `TickaccelError` saying what was looked for."""
    outdir = Path(outdir)
    if not outdir.is_dir():
        raise TickaccelError(f"no such folder: {outdir}")
    if _holds_bbo(outdir):
        return [outdir]
    feeds = sorted(p for p in outdir.iterdir() if p.is_dir() and _holds_bbo(p))
    if not feeds:
        raise TickaccelError(f"no BBO table in {outdir}: it holds neither bbo.parquet (tickaccel "
                             "replay), bbo-*.parquet segments (tickaccel live) nor feed folders "
                             "with them (run `tickaccel replay` first)")
    return feeds


def book_tables(folder: Path) -> dict:
    """The BBO table of one feed's folder (and depth, trades when written), as the books build them."""
    from tickaccel.schema.analysis import as_built

    if (folder / "bbo.parquet").is_file():
        tables = {"bbo": _read(folder / "bbo.parquet")}
        for name in ("depth", "trades"):
            if (folder / f"{name}.parquet").is_file():
                tables[name] = _read(folder / f"{name}.parquet")
    else:
        from tickaccel.live.segments import read_segments

        try:
            tables = {"bbo": read_segments(folder)}
        except Exception as exc:
            raise TickaccelError(f"cannot read the live segments in {folder}: {exc}") from None
    return {name: as_built(table) for name, table in tables.items()}


def run_signals(outdir: str | Path, backend: str = "auto", spec_path: str | Path | None = None) -> dict:
    """Compute signals for one feed's folder (`book_tables`) into OUTDIR/signals.parquet."""
    import pyarrow.parquet as pq

    from tickaccel.kernels import compute, default_spec, load_spec, resolve_backend

    outdir = Path(outdir)
    if not _holds_bbo(outdir):
        raise TickaccelError(f"no BBO table: {outdir / 'bbo.parquet'} does not exist and there are no "
                             "live segments (run `tickaccel replay` first)")
    tables = book_tables(outdir)
    spec = load_spec(spec_path) if spec_path else default_spec()
    name = resolve_backend(backend)
    start = time.perf_counter()
    signals = compute(tables.pop("bbo"), spec, name, **tables)
    seconds = time.perf_counter() - start
    out_path = outdir / "signals.parquet"
    pq.write_table(signals, out_path)
    return {"backend": name, "rows": signals.num_rows, "seconds": seconds,
            "rows_per_s": signals.num_rows / seconds if seconds > 0 else float("inf"),
            "columns": signals.column_names[4:], "path": str(out_path)}


def signals_command(
    outdir: Path = typer.Argument(..., help="A replay's output folder (bbo.parquet, and depth/trades), "
                                            "a live run's (segments), or a several-feed replay's."),
    backend: str = typer.Option("auto", "--backend", "-b",
                                help="numpy, cpu, opencl, cupy, numba-cuda, or auto (fastest present)."),
    spec: Path = typer.Option(None, "--spec", help="Signal spec TOML (default: the shipped spec)."),
) -> None:
    """Compute trading signals of every BBO row into signals.parquet beside each BBO table."""
    for folder in replay_folders(outdir):
        result = run_signals(folder, backend, spec)
        typer.echo(f"{result['rows']} rows, {len(result['columns'])} signals on {result['backend']} "
                   f"in {result['seconds']:.3f} s ({result['rows_per_s']:,.0f} rows/s) -> {result['path']}")


def plot_command(
    outdir: Path = typer.Argument(..., help="A replay's or a live run's output folder."),
    symbol: str = typer.Option(..., "--symbol", "-s", help="Symbol to draw."),
    output: Path = typer.Option(None, "--output", "-o", help="PNG file (default OUTDIR/SYMBOL.png)."),
    start: str = typer.Option(None, "--from", help="First time of day drawn, e.g. 09:30."),
    end: str = typer.Option(None, "--to", help="Last time of day drawn, e.g. 16:00."),
    window: float = typer.Option(1.0, "--window", min=0.0,
                                 help="Seconds the imbalance is averaged over (0: as quoted)."),
    html: bool = typer.Option(False, "--html", help="Also an interactive HTML page beside the PNG (plotly)."),
) -> None:
    """Draw one symbol's quotes (bid-ask band, mid, microprice, its trades), spread and imbalance."""
    from tickaccel.schema.units import time_of_day_ns

    folders = replay_folders(outdir)
    if len(folders) > 1:
        raise TickaccelError(f"{outdir} holds several feeds' tables ({', '.join(f.name for f in folders)}): "
                             f"plot one of them, e.g. {folders[0]}")
    folder = folders[0]
    window_ns = (time_of_day_ns(start) if start else 0, time_of_day_ns(end) if end else None)
    series = _symbol_series(folder, symbol, window_ns, int(window * 1e9))
    target = output or folder / f"{symbol}.png"
    _draw_png(series, symbol, target)
    typer.echo(f"wrote {target}")
    if html:
        page = target.with_suffix(".html")
        _draw_html(series, symbol, page)
        typer.echo(f"wrote {page}")


def _symbol_series(folder: Path, symbol: str, window_ns: tuple[int, int | None], average_ns: int) -> dict:
    """One symbol's quote signals and printable trades in the time window, prices in dollars,
    times as datetime64 (exchange time; on the trading date when the tables carry one)."""
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from tickaccel.kernels import compute, parse_spec
    from tickaccel.schema.tables import printable_trades
    from tickaccel.schema.units import PRICE_SCALE

    tables = book_tables(folder)
    bbo = tables["bbo"]
    symbols = pc.unique(bbo.column("symbol")).to_pylist()
    if symbol not in symbols:
        examples = ", ".join(sorted(s for s in symbols if s)[:8])
        raise TickaccelError(f"symbol {symbol!r} has no rows in {folder}; it has {len(symbols):,} "
                             f"symbols, e.g. {examples}")
    first, last = window_ns
    in_window = pc.and_(pc.equal(bbo.column("symbol"), symbol),
                        pc.greater_equal(bbo.column("timestamp"), first))
    if last is not None:
        in_window = pc.and_(in_window, pc.less_equal(bbo.column("timestamp"), last))
    rows = bbo.filter(in_window)
    if rows.num_rows == 0:
        raise TickaccelError(f"symbol {symbol!r} has no rows between the --from and --to times")
    signals = compute(rows, parse_spec({"signal": [{"kind": k} for k in QUOTE_SIGNALS]}), "numpy")
    stamps = rows.column("timestamp").to_numpy().astype(np.int64)
    day = np.datetime64("1970-01-01", "ns")
    if (folder / "bbo.parquet").is_file():
        date = (pq.ParquetFile(folder / "bbo.parquet").metadata.metadata or {}).get(b"tickaccel.trading_date")
        if date:
            day = np.datetime64(date.decode(), "ns")

    def dollars(column: str, table) -> np.ndarray:
        ticks = table.column(column).to_numpy().astype(np.float64)
        return np.where(ticks > 0, ticks / PRICE_SCALE, np.nan)

    imbalance = signals.column("imbalance").to_numpy(zero_copy_only=False)
    series = {
        "time": day + stamps, "bid": dollars("bid_price", rows), "ask": dollars("ask_price", rows),
        "mid": signals.column("mid").to_numpy(zero_copy_only=False),
        "microprice": signals.column("microprice").to_numpy(zero_copy_only=False),
        "spread": signals.column("spread").to_numpy(zero_copy_only=False),
        "imbalance": _trailing_mean(stamps, imbalance, average_ns),
        "average_s": average_ns / 1e9,
    }
    trades = tables.get("trades")
    if trades is not None:
        kept = printable_trades(trades)
        mask = pc.and_(pc.equal(kept.column("symbol"), symbol),
                       pc.and_(pc.greater_equal(kept.column("timestamp"), int(stamps[0])),
                               pc.less_equal(kept.column("timestamp"), int(stamps[-1]))))
        kept = kept.filter(mask)
        series["trades"] = {
            "time": day + kept.column("timestamp").to_numpy().astype(np.int64),
            "price": dollars("price", kept),
            "shares": kept.column("shares").to_numpy(),
            # a sell took a bid
            "against_bid": pc.equal(kept.column("side"), "B").to_numpy(zero_copy_only=False),
        }
    return series


def _trailing_mean(stamps, values, window_ns: int):
    """Each row's mean of `values` over the rows of the last `window_ns` (NaN skipped)."""
    import numpy as np

    if window_ns <= 0:
        return values
    finite = np.isfinite(values)
    sums = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(finite)])
    begin = np.searchsorted(stamps, stamps - window_ns, side="right")
    end = np.arange(1, len(stamps) + 1)
    n = counts[end] - counts[begin]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[end] - sums[begin]) / n, np.nan)


def _draw_png(series: dict, symbol: str, target: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        raise BackendUnavailable("plot needs matplotlib (pip install 'tickaccel[plot]')") from None
    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    import numpy as np

    t = series["time"]
    figure, (quotes, spread, imbalance) = plt.subplots(
        3, 1, sharex=True, figsize=(12, 8), gridspec_kw={"height_ratios": [3, 1, 1]})
    quotes.fill_between(t, series["bid"], series["ask"], step="post", alpha=0.25, color="tab:blue",
                        linewidth=0, label="bid–ask")
    quotes.step(t, series["mid"], where="post", color="tab:blue", linewidth=0.8, label="mid")
    quotes.step(t, series["microprice"], where="post", color="tab:orange", linewidth=0.6,
                alpha=0.8, label="microprice")
    trades = series.get("trades")
    if trades is not None and len(trades["time"]):
        size = 4 + 30 * np.sqrt(trades["shares"] / max(1, trades["shares"].max()))
        for mask, colour, label in ((~trades["against_bid"], "tab:green", "trade at the ask"),
                                    (trades["against_bid"], "tab:red", "trade at the bid")):
            quotes.scatter(trades["time"][mask], trades["price"][mask], s=size[mask], color=colour,
                           alpha=0.6, linewidths=0, label=label, zorder=3)
    quotes.set_ylabel("price ($)")
    quotes.ticklabel_format(axis="y", useOffset=False)
    quotes.legend(loc="upper left", fontsize=8, ncols=5)
    spread.step(t, series["spread"], where="post", color="tab:purple", linewidth=0.8)
    spread.set_ylabel("spread ($)")
    imbalance.step(t, series["imbalance"], where="post", color="tab:gray", linewidth=0.8)
    imbalance.axhline(0, color="black", linewidth=0.5)
    imbalance.set_ylim(-1.05, 1.05)
    label = f"imbalance ({series['average_s']:g} s mean)" if series["average_s"] else "imbalance"
    imbalance.set_ylabel(label)
    imbalance.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
    imbalance.set_xlabel("exchange time (America/New_York)")
    quotes.set_title(symbol)
    figure.tight_layout()
    figure.savefig(target, dpi=110)
    plt.close(figure)


def _draw_html(series: dict, symbol: str, page: Path) -> None:
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError:
        raise BackendUnavailable("--html needs plotly (pip install 'tickaccel[plot]')") from None
    t = series["time"]
    figure = make_subplots(rows=3, cols=1, shared_xaxes=True, row_heights=[0.6, 0.2, 0.2])
    figure.add_trace(go.Scatter(x=t, y=series["bid"], name="bid", line_shape="hv", line_width=0.8), 1, 1)
    figure.add_trace(go.Scatter(x=t, y=series["ask"], name="ask", line_shape="hv", line_width=0.8,
                                fill="tonexty"), 1, 1)
    figure.add_trace(go.Scatter(x=t, y=series["microprice"], name="microprice", line_shape="hv",
                                line_width=0.6), 1, 1)
    trades = series.get("trades")
    if trades is not None and len(trades["time"]):
        figure.add_trace(go.Scatter(x=trades["time"], y=trades["price"], mode="markers", name="trades",
                                    text=[f"{s:,} shares" for s in trades["shares"].tolist()],
                                    marker={"color": ["red" if b else "green" for b in trades["against_bid"]],
                                            "size": 6}), 1, 1)
    figure.add_trace(go.Scatter(x=t, y=series["spread"], name="spread ($)", line_shape="hv"), 2, 1)
    figure.add_trace(go.Scatter(x=t, y=series["imbalance"], name="imbalance"), 3, 1)
    figure.update_layout(title=symbol, height=800)
    figure.write_html(page, include_plotlyjs=True)  # one file that opens offline
