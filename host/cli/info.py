"""`tickaccel info`: version and the backends this machine has."""
from __future__ import annotations

import json
import platform

import typer
from rich.console import Console
from rich.table import Table

from tickaccel import __version__
from tickaccel.backends import discover


def info_command(as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON.")) -> None:
    """Print the tickaccel version and each backend, present or absent and why."""
    found = discover()
    if as_json:
        print(json.dumps({
            "version": __version__,
            "python": platform.python_version(),
            "backends": {n: {"present": b.present, "detail": b.detail} for n, b in found.items()},
        }, indent=2))
        return
    console = Console()
    console.print(f"tickaccel {__version__} (Python {platform.python_version()})")
    table = Table("backend", "present", "detail")
    for b in found.values():
        table.add_row(b.name, "[green]yes[/green]" if b.present else "[red]no[/red]", b.detail)
    console.print(table)
