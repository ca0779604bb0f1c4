"""The RTL order book's tops for `tickaccel.sim.runner`: their file lists, registered in `runner.TOPS`."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tickaccel.sim import runner

_FEED = runner.TOPS["feed_handler"]
BOOK_TOPS: dict[str, tuple[str, ...]] = {
    "order_book": ("order_store.v", "price_levels.v", "order_book.v"),
    "feed_to_book": _FEED + ("order_store.v", "price_levels.v", "order_book.v", "book_csr.v",
                             "axil_split.v", "feed_to_book.v"),
}
runner.TOPS.update(BOOK_TOPS)


def run(top: str, test_module: str, parameters: Mapping[str, object] | None = None,
        env: Mapping[str, str] | None = None, simulator: str | None = None,
        testcase: str | None = None) -> Path:
    """`runner.run` for a book top."""
    assert top in BOOK_TOPS, top
    return runner.run(top, test_module, parameters, env=env, simulator=simulator, testcase=testcase)
