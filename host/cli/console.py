"""The consoles the commands print with, made on first use: importing Rich takes tens of
milliseconds that `tickaccel --help` and a refused option need not spend."""
from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@cache
def console() -> Console:
    """Standard output (it follows `sys.stdout` when that is replaced)."""
    from rich.console import Console

    return Console()


@cache
def error_console() -> Console:
    """Standard error."""
    from rich.console import Console

    return Console(stderr=True)
