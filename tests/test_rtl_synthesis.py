"""The RTL synthesizes with Yosys: no latches, `check -assert` clean, and synth_xilinx at every width."""
from __future__ import annotations

import importlib.util
import shutil
import subprocess

import pytest

from tickaccel.sim.runner import RTL_DIR, TOPS

pytestmark = pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed")


@pytest.mark.parametrize("top", sorted(TOPS))
def test_elaborates_without_latches(top):
    # latches appear at `proc`; the full mapping runs in the slow test below
    files = " ".join(str(RTL_DIR / name) for name in TOPS[top])
    script = (f"read_verilog -I{RTL_DIR} {files}; hierarchy -check -top {top}; proc; flatten; "
              "opt_clean; select -assert-none t:$dlatch t:$adlatch; check -assert")
    run = subprocess.run(["yosys", "-q", "-p", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("data_width", [32, 64, 128])
def test_synth_xilinx_reports_resources(data_width):
    spec = importlib.util.spec_from_file_location("synth", RTL_DIR.parent / "syn" / "synth.py")
    synth = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(synth)
    figures = synth.synthesize("feed_handler", data_width)
    assert figures["luts"] > 0 and figures["ffs"] > 0 and figures["logic_depth"] > 0
