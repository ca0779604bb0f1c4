"""Measure the RTL order book: latency per message kind and events per cycle (Icarus), and
Yosys synth_xilinx resources and logic depth for a default and a large parameter set.

    .venv/bin/python bench/rtl_book.py [--no-synth]

Prints the figures as Markdown for bench/RESULTS_rtl_book.md. Synthesis of the
large set takes several minutes.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path

from tickaccel import generator
from tickaccel.sim import book_model, book_runner, runner
from tickaccel.sim.book_model import BookParams

RTL = runner.RTL_DIR
SYNTH_SETS = {
    "default": BookParams(),
    "large": BookParams(max_symbols=16384, order_bucket_bits=18, order_ways=4, levels=64, top_n=8),
}


def measure(params: BookParams, messages: int = 20000, symbols: int = 100) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        stimulus, figures = Path(tmp) / "stimulus.pkl", Path(tmp) / "figures.json"
        words = book_model.feed_events(generator.generate(messages, symbols, 3).tobytes())
        book_model.write_stimulus(stimulus, words, params)
        book_runner.run("order_book", "tb_book", params.verilog(),
                        testcase="test_measure_latency_and_throughput",
                        env={"TB_STIMULUS": str(stimulus), "TB_MEASURE": str(figures)})
        return json.loads(figures.read_text())


def synthesize(params: BookParams, log: Path) -> dict:
    files = " ".join(str(RTL / f) for f in book_runner.BOOK_TOPS["order_book"])
    sets = " ".join(f"-set {k} {v}" for k, v in params.verilog().items())
    script = (f"read_verilog -I{RTL} {files}; chparam {sets} order_book; "
              "synth_xilinx -top order_book -flatten; stat; ltp -noff")
    subprocess.run(["yosys", "-q", "-l", str(log), "-p", script], check=True,
                   stdout=subprocess.DEVNULL)
    text = log.read_text()
    assert "End of script" in text, f"yosys did not finish: {log}"
    cells = dict(re.findall(r"^\s+(\w+)\s+(\d+)$", text.split("Printing statistics")[-1], re.MULTILINE))
    luts = sum(int(n) for c, n in cells.items() if re.fullmatch(r"LUT\d", c))
    ffs = sum(int(n) for c, n in cells.items() if re.fullmatch(r"FD\w+", c))
    depth = re.findall(r"Longest topological path in \S+ \(length=(\d+)\)", text)
    return {"LUT": luts, "FF": ffs, "RAMB36E1": int(cells.get("RAMB36E1", 0)),
            "RAMB18E1": int(cells.get("RAMB18E1", 0)), "logic_depth": int(depth[-1]) if depth else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-synth", action="store_true")
    args = parser.parse_args()
    m = measure(BookParams(max_symbols=128, order_bucket_bits=12, levels=64, top_n=8))
    print(f"events {m['events']}, records {m['records']}, events/cycle {m['events_per_cycle']:.3f}\n")
    print("| kind | records | min | mean | max |\n|---|---|---|---|---|")
    for kind, v in m["latency"].items():
        print(f"| {kind} | {v['count']} | {v['min']} | {v['mean']:.2f} | {v['max']} |")
    if not args.no_synth:
        print("\n| set | parameters | LUT | FF | RAMB36E1 | RAMB18E1 | logic depth |\n|---|---|---|---|---|---|---|")
        for name, params in SYNTH_SETS.items():
            r = synthesize(params, Path(tempfile.gettempdir()) / f"rtl_book_{name}.log")
            print(f"| {name} | {params.verilog()} | {r['LUT']} | {r['FF']} | {r['RAMB36E1']} | "
                  f"{r['RAMB18E1']} | {r['logic_depth']} |")


if __name__ == "__main__":
    main()
