"""`tickaccel signals` and `tickaccel plot`: signal columns from a replay's Parquet tables."""
from __future__ import annotations

import time
from pathlib import Path

import typer

from tickaccel.errors import TickaccelError


def _read(path: Path):
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a non-Parquet file
        raise TickaccelError(f"cannot read {path} as Parquet: {exc}") from None


def _read_book_table(path: Path):
    """A replay's table as the books build it, whatever form `replay` wrote it in."""
    from tickaccel.schema.analysis import as_built

    return as_built(_read(path))


def run_signals(outdir: str | Path, backend: str = "auto", spec_path: str | Path | None = None) -> dict:
    """Compute signals for OUTDIR/bbo.parquet (+ depth, trades if present) into OUTDIR/signals.parquet."""
    import pyarrow.parquet as pq

    from tickaccel.kernels import compute, default_spec, load_spec, resolve_backend

    outdir = Path(outdir)
    bbo_path = outdir / "bbo.parquet"
    if not bbo_path.is_file():
        raise TickaccelError(f"no BBO table: {bbo_path} does not exist (run `tickaccel replay` first)")
    extra = {name: _read_book_table(outdir / f"{name}.parquet") for name in ("depth", "trades")
             if (outdir / f"{name}.parquet").is_file()}
    spec = load_spec(spec_path) if spec_path else default_spec()
    name = resolve_backend(backend)
    bbo = _read_book_table(bbo_path)
    start = time.perf_counter()
    signals = compute(bbo, spec, name, **extra)
    seconds = time.perf_counter() - start
    out_path = outdir / "signals.parquet"
    pq.write_table(signals, out_path)
    return {"backend": name, "rows": signals.num_rows, "seconds": seconds,
            "rows_per_s": signals.num_rows / seconds if seconds > 0 else float("inf"),
            "columns": signals.column_names[4:], "path": str(out_path)}


def signals_command(
    outdir: Path = typer.Argument(..., help="Replay output folder holding bbo.parquet (and depth/trades)."),
    backend: str = typer.Option("auto", "--backend", "-b",
                                help="numpy, cpu, opencl, cupy, numba-cuda, or auto (fastest present)."),
    spec: Path = typer.Option(None, "--spec", help="Signal spec TOML (default: the shipped spec)."),
) -> None:
    """Compute trading signals of every BBO row into OUTDIR/signals.parquet."""
    result = run_signals(outdir, backend, spec)
    typer.echo(f"{result['rows']} rows, {len(result['columns'])} signals on {result['backend']} "
               f"in {result['seconds']:.3f} s ({result['rows_per_s']:,.0f} rows/s) -> {result['path']}")


def plot_command(
    outdir: Path = typer.Argument(..., help="Folder with signals.parquet (or bbo.parquet)."),
    symbol: str = typer.Option(..., "--symbol", "-s", help="Symbol to draw."),
    output: Path = typer.Option(None, "--output", "-o", help="PNG file (default OUTDIR/SYMBOL.png)."),
) -> None:
    """Draw mid, microprice, spread and imbalance of one symbol over time to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import pyarrow.compute as pc

    from tickaccel.kernels import compute, parse_spec

    path = Path(outdir) / "signals.parquet"
    if path.is_file():
        table = _read(path)
    elif (Path(outdir) / "bbo.parquet").is_file():
        kinds = ("mid", "microprice", "spread", "imbalance")
        table = compute(_read_book_table(Path(outdir) / "bbo.parquet"),
                        parse_spec({"signal": [{"kind": k} for k in kinds]}), "auto")
    else:
        raise TickaccelError(f"no signals.parquet or bbo.parquet in {outdir}")
    rows = table.filter(pc.equal(table.column("symbol"), symbol))
    if rows.num_rows == 0:
        raise TickaccelError(f"symbol {symbol!r} has no rows in {outdir}")
    hours = rows.column("timestamp").to_numpy().astype(np.float64) / 3.6e12
    panels = [("price ($)", ["mid", "microprice"]), ("spread ($)", ["spread"]), ("imbalance", ["imbalance"])]
    figure, axes = plt.subplots(len(panels), 1, sharex=True, figsize=(10, 7))
    for axis, (label, names) in zip(axes, panels):
        for name in names:
            if name in rows.column_names:
                axis.step(hours, rows.column(name).to_numpy(), where="post", label=name, linewidth=0.8)
        axis.set_ylabel(label)
        axis.legend(loc="upper right")
    axes[-1].set_xlabel("hours after midnight")
    axes[0].set_title(symbol)
    target = output or Path(outdir) / f"{symbol}.png"
    figure.savefig(target, dpi=110)
    plt.close(figure)
    typer.echo(f"wrote {target}")
