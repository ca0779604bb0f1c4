"""The `tickaccel` command line: one entry point, subcommands that read like sentences.

Each command is a thin function in a module of its own (`info`, `live`, `signals`,
`generate`, `replay`, `fpga`) that checks its options and calls the library; this module
registers them on `app` and turns unusable input into one red line and exit 2.
"""
from __future__ import annotations

import sys

import typer
from rich.console import Console

from tickaccel.cli import fpga, generate, info, live, replay, signals
from tickaccel.errors import TickaccelError

app = typer.Typer(
    name="tickaccel",
    help="ITCH 5.0 feeds to order books and trading signals on CPU, GPU and FPGA.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)
_state = {"debug": False}

# Registration order is the order `tickaccel --help` lists them in.
app.command("info")(info.info_command)
app.command("publish")(live.publish_command)
app.command("live")(live.live_command)
app.command("signals")(signals.signals_command)
app.command("plot")(signals.plot_command)
app.command("generate")(generate.generate_command)
app.command("replay")(replay.replay_command)
app.command("dump")(replay.dump_command)
app.command("stats")(replay.stats_command)
app.add_typer(fpga.fpga_app, name="fpga")


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    _state["debug"] = debug


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; unusable input is one red line and a non-zero exit, not a traceback."""
    try:
        app(args=argv, prog_name="tickaccel")
    except SystemExit as exc:  # usage errors and --help end here with their own code
        return exc.code if isinstance(exc.code, int) else 0
    except TickaccelError as exc:
        if _state["debug"]:
            raise
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        return 2
    except FileNotFoundError as exc:
        if _state["debug"]:
            raise
        err_console.print(f"[red]error:[/red] no such file: {exc.filename}", highlight=False, soft_wrap=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
