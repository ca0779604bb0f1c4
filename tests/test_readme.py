"""The README's Usage commands run as written, in order, in an empty folder (smaller feeds)."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def usage_commands() -> list[str]:
    """The first sh block after "## Usage", one command per line, comments dropped."""
    text = README.read_text()
    block = re.search(r"^## Usage\n.*?```sh\n(.*?)```", text, re.DOTALL | re.MULTILINE).group(1)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


@pytest.mark.slow
def test_usage_block_runs_as_written(tmp_path):
    commands = usage_commands()
    assert len(commands) > 10 and all(c.startswith("tickaccel ") for c in commands)
    tickaccel = [sys.executable, "-c", "import sys; from tickaccel.cli import main; sys.exit(main())"]
    for command in commands:
        # Feeds of 50 000 messages instead of a million: the same commands, minutes less.
        args = shlex.split(command.replace("--messages 1000000", "--messages 50000"))[1:]
        run = subprocess.run(tickaccel + args, cwd=tmp_path, capture_output=True, text=True,
                             env={**os.environ, "COLUMNS": "120"}, timeout=600)
        assert run.returncode == 0, f"{command}\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    assert (tmp_path / "aapl.png").is_file() and (tmp_path / "aapl.html").is_file()
    assert (tmp_path / "days" / "feed" / "signals.parquet").is_file()
    assert (tmp_path / "days" / "day2" / "signals.parquet").is_file()
