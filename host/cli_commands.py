"""Imports every subcommand module so each registers itself on the CLI app."""
from . import cli_info  # noqa: F401
from . import cli_live  # noqa: F401
from . import cli_signals  # noqa: F401
from . import cli_generate  # noqa: F401
from . import cli_replay  # noqa: F401
from . import cli_fpga  # noqa: F401
