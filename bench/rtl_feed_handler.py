"""Measure the RTL feed handler in simulation: throughput and latency per DATA_WIDTH.

    python bench/rtl_feed_handler.py [--messages 5000] [--widths 32 64 128] [--clock-mhz F] [--json out.json]

A clean generated feed goes back to back into s_axis (no idle cycles, no
output backpressure). Throughput is input beats accepted per cycle from the
first beat to the last; latency is the cycles from the clock edge that takes
the beat holding a message's last byte to the edge that takes its record on
m_axis; with --clock-mhz (say the placed Fmax from `hw/syn/synth.py --ecp5`) it
is also given in ns at that clock. Icarus by default (SIM=verilator to change).
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from tickaccel.sim import model, runner


def measure(data_width: int, messages: int, seed: int = 1) -> dict:
    with tempfile.TemporaryDirectory() as work:
        stimulus, figures = Path(work) / "frames.pkl", Path(work) / "figures.json"
        model.write_stimulus(stimulus, model.feed_frames(messages, seed=seed))
        runner.run("feed_handler", "tb_feed_handler", {"DATA_WIDTH": data_width},
                   testcase="test_measure_throughput_and_latency",
                   env={"TB_STIMULUS": str(stimulus), "TB_DATA_WIDTH": str(data_width),
                        "TB_MEASURE": str(figures)})
        return json.loads(figures.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--clock-mhz", type=float, help="also give the latency in ns at this clock")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    results = [measure(w, args.messages) for w in args.widths]
    ns = f" | latency max at {args.clock_mhz:g} MHz (ns)" if args.clock_mhz else ""
    print(f"| DATA_WIDTH | frames | records | beats/cycle | latency min/mean/max (cycles){ns} |")
    print("|---|---|---|---|---|" + ("---|" if ns else ""))
    for r in results:
        if args.clock_mhz:
            r["latency_max_ns"] = r["latency_max"] * 1000 / args.clock_mhz
        print(f"| {r['data_width']} | {r['frames']} | {r['records']} | {r['beats_per_cycle']:.4f} | "
              f"{r['latency_min']}/{r['latency_mean']:.2f}/{r['latency_max']}"
              + (f" | {r['latency_max_ns']:.1f}" if args.clock_mhz else "") + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
