"""The RTL order book's tops (their file lists live in `tickaccel.hw.params.TOPS`) and a runner for them."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from tickaccel.hw.params import TOPS
from tickaccel.sim import runner

BOOK_TOPS: dict[str, tuple[str, ...]] = {top: TOPS[top] for top in ("order_book", "feed_to_book")}


def run(top: str, test_module: str, parameters: Mapping[str, object] | None = None,
        env: Mapping[str, str] | None = None, simulator: str | None = None,
        testcase: str | None = None, log_file: Path | None = None,
        plusargs: Sequence[str] = ()) -> Path:
    """`runner.run` for a book top."""
    assert top in BOOK_TOPS, top
    return runner.run(top, test_module, parameters, env=env, simulator=simulator,
                      testcase=testcase, log_file=log_file, plusargs=plusargs)
