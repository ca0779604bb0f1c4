"""examples/research.ipynb runs as written, and its answers agree with each other."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "research.ipynb"


def test_research_notebook_runs(tmp_path, monkeypatch):
    pytest.importorskip("pandas", reason="the notebook needs the research extra")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for i, cell in enumerate(json.loads(NOTEBOOK.read_text())["cells"]):
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), f"{NOTEBOOK.name}[{i}]", "exec"), namespace)
    bbo, quote, book = namespace["bbo"], namespace["quote"], namespace["book"]
    assert len(namespace["aapl"]) > 0 and (namespace["aapl"]["spread"].dropna() >= 0).all()
    # The book at 10:30 shows the last AAPL quote of the table at or before 10:30.
    at = bbo[(bbo["symbol"] == "AAPL") & (bbo["timestamp"] <= book.time)].iloc[-1]
    assert (quote.bid_price, quote.bid_size, quote.ask_price, quote.ask_size) == \
        (at["bid_price"], at["bid_size"], at["ask_price"], at["ask_size"])
    assert len(namespace["mids"]) == 3
    assert namespace["signals"]["trade_vwap_10s"].notna().any()
