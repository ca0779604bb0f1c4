"""What this machine can run tickaccel on, and why the rest is absent.

`discover()` probes each backend without side effects; `require(name)` turns
an absent backend into a clear error naming what is missing, so a request for
a backend never silently falls back to another one.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass

from tickaccel.errors import BackendUnavailable

# Fastest first: `auto` takes the first one present.
PREFERENCE = ("fpga", "cuda", "opencl", "cpu")


@dataclass(frozen=True)
class Backend:
    name: str
    present: bool
    detail: str  # what was found, or why it is absent


def _probe_cpu() -> Backend:
    import numba

    return Backend("cpu", True, f"numba {numba.__version__}, {os.cpu_count()} cores")


def _probe_cuda() -> Backend:
    if importlib.util.find_spec("cupy") is None:
        return Backend("cuda", False, "cupy is not installed (pip install 'tickaccel[gpu]')")
    try:
        import cupy

        if not cupy.is_available():
            return Backend("cuda", False, "cupy is installed but sees no CUDA device")
        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        return Backend("cuda", True, f"{name}, cupy {cupy.__version__}")
    except Exception as exc:  # a broken driver or toolkit is reported, not raised
        return Backend("cuda", False, f"cupy cannot use the GPU: {exc}")


def _probe_opencl() -> Backend:
    if importlib.util.find_spec("pyopencl") is None:
        return Backend("opencl", False, "pyopencl is not installed (pip install 'tickaccel[opencl]')")
    try:
        import pyopencl as cl

        devices = [f"{d.name.strip()} ({p.name.strip()})"
                   for p in cl.get_platforms() for d in p.get_devices()]
    except Exception as exc:
        return Backend("opencl", False, f"no OpenCL platform: {exc}")
    if not devices:
        return Backend("opencl", False, "OpenCL platforms found but no device")
    return Backend("opencl", True, "; ".join(devices))


def _probe_sim() -> Backend:
    if importlib.util.find_spec("cocotb") is None:
        return Backend("sim", False, "cocotb is not installed (pip install 'tickaccel[sim]')")
    found = [s for s in ("iverilog", "verilator") if shutil.which(s)]
    if not found:
        return Backend("sim", False, "no HDL simulator on PATH (apt-get install iverilog)")
    return Backend("sim", True, "simulators: " + ", ".join(found))


def _probe_fpga() -> Backend:
    if importlib.util.find_spec("pynq") is None:
        return Backend("fpga", False, "pynq is not installed (it ships on PYNQ board images)")
    if not os.path.exists("/dev/xdevcfg") and not os.path.exists("/sys/class/fpga_manager/fpga0"):
        return Backend("fpga", False, "pynq is installed but no FPGA device was found")
    return Backend("fpga", True, "PYNQ board")


_PROBES = {
    "cpu": _probe_cpu,
    "cuda": _probe_cuda,
    "opencl": _probe_opencl,
    "sim": _probe_sim,
    "fpga": _probe_fpga,
}


def discover() -> dict[str, Backend]:
    """Probe every backend; never raises."""
    return {name: probe() for name, probe in _PROBES.items()}


def require(name: str) -> Backend:
    """The named backend, or `BackendUnavailable` saying what is missing; `auto` picks the fastest."""
    if name == "auto":
        found = discover()
        return next(found[n] for n in PREFERENCE if found[n].present)
    if name not in _PROBES:
        raise BackendUnavailable(f"unknown backend {name!r}; choose from {', '.join(_PROBES)} or auto")
    backend = _PROBES[name]()
    if not backend.present:
        raise BackendUnavailable(f"backend {name!r} is not available: {backend.detail}")
    return backend
