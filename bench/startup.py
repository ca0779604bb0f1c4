"""Command-line start-up: whole processes, several runs each, min and median wall time.

`tickaccel --help`, a replay of a one-message feed, and beside them what a replay cannot
avoid on this Python: the interpreter, and importing NumPy, pyarrow and Numba and loading a
cached kernel. With --baseline, the same commands of another tickaccel (its PYTHONPATH),
alternating with this one's so machine load hits both alike.

    python bench/startup.py --runs 7
    python bench/startup.py --runs 7 --baseline /tmp/old_site
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tickaccel.schema import itch

ENTRY = "import sys; from tickaccel.cli import main; sys.exit(main(sys.argv[1:]))"
FLOORS = {
    "python": "pass",
    "import numpy, pyarrow.parquet": "import numpy, pyarrow.parquet",
    "import numba + one cached kernel": "from tickaccel.feed.binaryfile import whole_records_end; "
                                        "import numpy; whole_records_end(numpy.zeros(2, numpy.uint8), 1)",
}


def one_message_feed(path: Path) -> Path:
    """A BinaryFILE of one R message."""
    message = itch.encode_message(itch.make("R", stock_locate=1, stock="AAPL"))
    path.write_bytes(len(message).to_bytes(2, "big") + message)
    return path


def _wall(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--baseline", metavar="PYTHONPATH", help="also time the tickaccel found here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        feed = one_message_feed(Path(folder) / "one.itch")
        out = Path(folder) / "out"
        commands = {"tickaccel --help": ["--help"],
                    "tickaccel replay (one message)": ["replay", str(feed), "-o", str(out), "--overwrite"]}
        builds = {"this": dict(os.environ)}
        if args.baseline:
            builds["baseline"] = {**os.environ, "PYTHONPATH": args.baseline}
        cases = {f"{name} [{build}]": ([sys.executable, "-c", ENTRY, *argv], env)
                 for name, argv in commands.items() for build, env in builds.items()}
        cases |= {name: ([sys.executable, "-c", code], dict(os.environ)) for name, code in FLOORS.items()}
        for command, env in cases.values():  # warm: page cache, Numba cache
            _wall(command, env)
        walls: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, (command, env) in cases.items():
                walls[name].append(_wall(command, env))
    print(f"{args.runs} runs each, wall time of the whole process")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("note: PYTHONDONTWRITEBYTECODE is set, so every run compiles the modules it imports "
              "again (tens of ms a user's machine does not spend)")
    for name, times in walls.items():
        print(f"{name:<45} min {min(times):.3f} s, median {statistics.median(times):.3f} s")


if __name__ == "__main__":
    main()
