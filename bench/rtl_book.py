"""Measure the RTL order book: latency per message kind and events per cycle (Icarus), and
Yosys synth_xilinx resources and logic depth for a default and a large parameter set; with
--market, events per cycle on a feed of 4 000 symbols, with and without a sink that pauses at
random; with --ecp5, the Fmax nextpnr-ecp5 places order_book at (a set that fits the ECP5-85's
block RAM); with --refusals, the order store's occupancy at its first refused add on generated
feeds (the model, which places orders as the RTL does).

    .venv/bin/python bench/rtl_book.py [--no-synth | --synth-only default large | --market
                                        | --ecp5 [--top-n 1] [--seeds 1 2] [--jobs 2] [--placer heap]
                                        | --refusals]

Prints the figures as Markdown for bench/RESULTS.md. Synthesis takes
2.5 (default) and 4 (large) CPU minutes.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import re
import subprocess
import tempfile
import time
from pathlib import Path

from tickaccel.feed import generator
from tickaccel.hw.params import BookParams
from tickaccel.sim import book_model, book_runner, runner

RTL = runner.RTL_DIR
# (messages, symbols, target_depth, ORDER_BUCKET_BITS): feeds whose live orders outgrow a 4-way store
REFUSAL_FEEDS = ((3000, 20, 40, 7), (6000, 30, 60, 8), (20000, 40, 60, 9), (100000, 300, 60, 11))
# name -> (parameters, synth_xilinx family): the default set on 7-series block RAM; the large
# set (2^20 order slots, 8192 symbols) on UltraScale+ with ULTRA_RAM, which marks the order
# store and the level array ram_style "ultra" (Yosys and Vivado take UltraRAM only when asked).
SYNTH_SETS = {
    "default": (BookParams(), "xc7"),
    "large": (BookParams(max_symbols=8192, order_bucket_bits=18, order_ways=4, levels=64, top_n=8,
                         ultra_ram=True), "xcup"),
}


# a whole market: the feed's symbols fit MAX_SYMBOLS; order store and levels as a large board's
MARKET = BookParams(max_symbols=4096, order_bucket_bits=13, order_ways=4, levels=32, top_n=8)
# the ECP5-85's 208 block RAMs (18 Kbit) hold this set's memories; its pool of 4 096 levels in 4-bit
# slices, a 4096 x 4 block each (one memory would stack 2048 x 9 blocks behind a multiplexer)
ECP5_SET = BookParams(max_symbols=128, order_bucket_bits=10, order_ways=4, levels=16, top_n=4, level_ram_slice=4)


def measure(params: BookParams, messages: int = 20000, symbols: int = 100, seed: int = 3,
            backpressure: bool = False, idle_share: float = 0.0) -> dict:
    """Latency per kind and events per cycle; `backpressure`: the sink pauses half the cycles;
    `idle_share`: the source pauses that share of the cycles (the load offered below saturation)."""
    with tempfile.TemporaryDirectory() as tmp:
        stimulus, figures = Path(tmp) / "stimulus.pkl", Path(tmp) / "figures.json"
        words = book_model.feed_events(generator.generate(messages, symbols, seed).tobytes())
        book_model.write_stimulus(stimulus, words, params)
        book_runner.run("order_book", "tb_book", params.verilog(),
                        testcase="test_measure_latency_and_throughput",
                        env={"TB_STIMULUS": str(stimulus), "TB_MEASURE": str(figures),
                             **({"TB_BACKPRESSURE": "1"} if backpressure else {}),
                             **({"TB_IDLE": "1", "TB_IDLE_SHARE": str(idle_share)} if idle_share else {})})
        return json.loads(figures.read_text())


def synth_script(params: BookParams, family: str = "xc7", top: str = "order_book") -> str:
    """Yosys script: synth_xilinx, no latches, cell statistics, then logic depth as hw/syn/synth.py
    measures it: `ltp -noff` with the flip-flops deleted, so paths end at registers. The RAM cells
    go too: their outputs are registered, and a RAM whose read data feeds its own address
    would otherwise be a loop to ltp. So do the DSP slices whose product is registered in them:
    ltp would read them as logic. Yosys puts a register right behind a multiply in MREG (an
    adder behind that register then goes into the slice's post-adder, ahead of PREG) and one
    behind a multiply's adders in PREG; either ends the product's path.
    `top` is order_book or feed_to_book (the feed handler at its default 64-bit width in front)."""
    files = " ".join(str(RTL / f) for f in book_runner.BOOK_TOPS[top])
    sets = " ".join(f"-set {k} {v}" for k, v in params.verilog().items())
    return (f"read_verilog -I{RTL} {files}\n"
            f"chparam {sets} {top}\n"
            f"synth_xilinx -top {top} -flatten -family {family}\n"
            "select -assert-none t:$dlatch t:$_DLATCH_* t:LD*\n"
            "stat\n"
            "delete t:FD* t:RAMB* t:URAM* t:RAM32M t:RAM64M t:RAM32X1D t:RAM64X1D t:RAM128X1D t:RAM256X1S\n"
            "delete t:DSP48E* r:PREG!=0 r:MREG!=0 %u %i\n"
            "ltp -noff\n")


def synthesize(params: BookParams, log: Path, family: str = "xc7", top: str = "order_book") -> dict:
    """Run Yosys; the figures of its log. Raises RuntimeError when it fails or does not finish."""
    script = log.with_suffix(".ys")
    script.write_text(synth_script(params, family, top))
    run = subprocess.run(["yosys", "-q", "-l", str(log), "-s", str(script)],
                         check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    text = log.read_text() if log.exists() else ""
    if run.returncode != 0 or "End of script" not in text:
        raise RuntimeError(f"yosys did not finish ({log}): {run.stderr[-2000:]}")
    stat = text.split("Printing statistics")[-1]
    cells = {c: int(n) for c, n in re.findall(r"^\s+(\w+)\s+(\d+)$", stat, re.MULTILINE)}
    depth = re.findall(r"Longest topological path in \S+ \(length=(\d+)\)", text)
    return {"LUT": sum(n for c, n in cells.items() if re.fullmatch(r"LUT\d", c)),
            "FF": sum(n for c, n in cells.items() if re.fullmatch(r"FD\w+", c)),
            "LUTRAM": sum(n for c, n in cells.items() if re.fullmatch(r"RAM(32|64|128|256)\w*", c)),
            "RAMB36": sum(n for c, n in cells.items() if c.startswith("RAMB36")),
            "RAMB18": sum(n for c, n in cells.items() if c.startswith("RAMB18")),
            "URAM": sum(n for c, n in cells.items() if c.startswith("URAM")),
            "logic_depth": int(depth[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-synth", action="store_true")
    parser.add_argument("--synth-only", choices=sorted(SYNTH_SETS), nargs="+",
                        help="synthesize these sets only, no simulation")
    parser.add_argument("--market", action="store_true",
                        help="events per cycle on 20 000 messages over 4 000 symbols, no synthesis")
    parser.add_argument("--ecp5", action="store_true",
                        help="nextpnr-ecp5 Fmax of order_book at ECP5_SET, no simulation")
    parser.add_argument("--seeds", type=int, nargs="+", default=(),
                        help="with --ecp5: place once per nextpnr seed (the Fmax moves by several MHz between seeds)")
    parser.add_argument("--placer", choices=("static", "heap"), default="static",
                        help="with --ecp5: nextpnr's placer (static places order_book's block RAMs and the logic "
                             "they feed closer than heap, nextpnr's default)")
    parser.add_argument("--place-timeout", type=float, default=1800.0,
                        help="with --ecp5: stop a placement after this many seconds (the static placer does "
                             "not converge on some seeds) and go on with the next seed")
    parser.add_argument("--jobs", type=int, default=1,
                        help="with --ecp5: place this many seeds at once (a placement takes one core)")
    parser.add_argument("--top-n", type=int, default=ECP5_SET.top_n,
                        help="with --ecp5: ECP5_SET at this TOP_N (1: the PYNQ-Z2's cache depth)")
    parser.add_argument("--refusals", action="store_true",
                        help="order-store occupancy at the first refused add, no simulation")
    args = parser.parse_args()
    if args.refusals:
        print("| feed | slots | first refusal at | peak |\n|---|---|---|---|")
        for messages, symbols, depth, bits in REFUSAL_FEEDS:
            words = book_model.feed_events(generator.generate(messages, symbols, 1, target_depth=depth).tobytes())
            params = BookParams(max_symbols=512, order_bucket_bits=bits, order_ways=4, levels=64, top_n=4)
            first, peak = book_model.first_refusal(words, params)
            print(f"| generate({messages}, {symbols}, 1, target_depth={depth}) | 2^{bits} x 4 + stash | "
                  f"{'none' if first is None else f'{first:.3f}'} | {peak:.3f} |", flush=True)
        return
    if args.market:
        print(f"{MARKET.verilog()}, generate(20000, 4000, seed 23)\n")
        print("| source / sink | events/cycle | order events/cycle | latency mean A / E / X / D / U "
              "| A min / max |\n|---|---|---|---|---|")
        for label, backpressure, idle_share in (("never pauses / never pauses", False, 0.0),
                                                ("never pauses / pauses half the cycles", True, 0.0),
                                                ("idle half the cycles / never pauses", False, 0.5)):
            m = measure(MARKET, 20000, 4000, 23, backpressure, idle_share)
            lat = m["latency"]
            means = " / ".join(f"{lat[k]['mean']:.2f}" for k in "AEXDU")
            print(f"| {label} | {m['events_per_cycle']:.3f} | {m['book_events_per_cycle']:.3f} | {means} | "
                  f"{lat['A']['min']} / {lat['A']['max']} |", flush=True)
        return
    if args.ecp5:
        spec = importlib.util.spec_from_file_location("synth", RTL.parent / "syn" / "synth.py")
        synth = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(synth)
        params = dataclasses.replace(ECP5_SET, top_n=args.top_n)
        r = synth.ecp5_fmax("order_book", sources=book_runner.BOOK_TOPS["order_book"],
                            parameters=params.verilog(), seeds=args.seeds, placer=args.placer,
                            place_timeout_s=args.place_timeout, jobs=args.jobs)
        print(f"order_book {params.verilog()} ECP5-{r['device']}-{r['speed']}, {r['placer']} placer: "
              f"{r['lut4']} LUT4, {r['ffs']} FF, {r['ebr']} EBR")
        for p in r["placements"]:
            seed = "default seed" if p["seed"] is None else f"seed {p['seed']}"
            if p["fmax_mhz"] is None:
                print(f"  {seed}: {p['error']}")
            else:
                print(f"  {seed}: {p['fmax_mhz']:.2f} MHz; critical path {' '.join(p['critical_path'])}")
        fmax = [p["fmax_mhz"] for p in r["placements"] if p["fmax_mhz"] is not None]
        if len(fmax) > 1:
            print(f"  min / mean / max: {min(fmax):.2f} / {sum(fmax) / len(fmax):.2f} / {max(fmax):.2f} MHz")
        return
    if args.synth_only:
        for name in args.synth_only:
            _print_synth(name)
        return
    m = measure(BookParams(max_symbols=128, order_bucket_bits=12, levels=64, top_n=8))
    print(f"events {m['events']}, records {m['records']}, events/cycle {m['events_per_cycle']:.3f}\n")
    print("| kind | records | min | mean | max |\n|---|---|---|---|---|")
    for kind, v in m["latency"].items():
        print(f"| {kind} | {v['count']} | {v['min']} | {v['mean']:.2f} | {v['max']} |")
    if not args.no_synth:
        for name in SYNTH_SETS:
            _print_synth(name)


def _print_synth(name: str) -> None:
    params, family = SYNTH_SETS[name]
    started = time.perf_counter()
    r = synthesize(params, Path(tempfile.gettempdir()) / f"rtl_book_{name}.log", family)
    print(f"| {name} | {family} | {params.verilog()} | {r['LUT']} | {r['FF']} | {r['LUTRAM']} | "
          f"{r['RAMB36']} | {r['RAMB18']} | {r['URAM']} | {r['logic_depth']} | "
          f"{time.perf_counter() - started:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
