"""The `tickaccel` command line: one entry point, subcommands that read like sentences.

Each command is a thin function in a module of its own (`info`, `live`, `signals`,
`generate`, `replay`, `book`, `export`, `fpga`) that checks its options and calls the library; this module
registers them on `app` and turns every failure into one red line and an exit status.
"""
from __future__ import annotations

import sys

import typer
from tickaccel.cli import book, export, fpga, generate, info, live, replay, signals
from tickaccel.cli.console import error_console
from tickaccel.errors import TickaccelError

app = typer.Typer(
    name="tickaccel",
    help="ITCH 5.0 feeds to order books and trading signals on CPU, GPU and FPGA.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
EXIT_FAILED, EXIT_UNUSABLE, EXIT_INTERRUPTED = 1, 2, 130
_state = {"debug": False}

# Registration order is the order `tickaccel --help` lists them in.
app.command("info")(info.info_command)
app.command("warmup")(info.warmup_command)
app.command("publish")(live.publish_command)
app.command("live")(live.live_command)
app.command("signals")(signals.signals_command)
app.command("plot")(signals.plot_command)
app.command("generate")(generate.generate_command)
app.command("replay")(replay.replay_command)
app.command("dump")(replay.dump_command)
app.command("stats")(replay.stats_command)
app.command("book")(book.book_command)
app.add_typer(export.export_app, name="export")
app.add_typer(fpga.fpga_app, name="fpga")


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    _state["debug"] = debug


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every failure is one red line and a non-zero exit, a traceback only with --debug.

    Exit codes: 2 for unusable input or options (`TickaccelError`, an `OSError` on a path),
    1 for a replay that failed on a usable feed (its summary.json is written)
    or an unexpected error, 130 when interrupted.
    """
    try:
        app(args=argv, prog_name="tickaccel")
    except SystemExit as exc:  # usage errors and --help end here with their own code
        return exc.code if isinstance(exc.code, int) else 0
    except (Exception, KeyboardInterrupt) as exc:
        if _state["debug"]:
            raise
        message, code = _one_line(exc)
        from rich.markup import escape

        error_console().print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
        return code
    return 0


def _one_line(exc: BaseException) -> tuple[str, int]:
    """The line the CLI prints for `exc`, and its exit status."""
    if isinstance(exc, TickaccelError):
        # A replay that failed on a usable feed (batch.summary.ReplayFailed) gives its own status.
        return str(exc), getattr(exc, "exit_code", EXIT_UNUSABLE)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", EXIT_INTERRUPTED
    if isinstance(exc, OSError):  # a path the command could not use: say which and why
        where = f": {exc.filename}" if exc.filename else ""
        return f"{(exc.strerror or str(exc)).lower()}{where}", EXIT_UNUSABLE
    return f"{type(exc).__name__}: {exc} (tickaccel --debug ... shows the traceback)", EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
