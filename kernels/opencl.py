"""The `opencl` backend: the shared device kernels built with PyOpenCL.

Runs on any OpenCL 1.2 device with double precision; the test suite uses
PoCL's CPU device. Sorting, searching and integer prefix sums stay in NumPy
on the host; each kernel call moves its buffers, which costs nothing on a
CPU device and is the price of simplicity on a discrete card.
"""
from __future__ import annotations

import functools
import importlib.util

import numpy as np

from tickaccel.kernels.device import DeviceKernels
from tickaccel.kernels.device_source import SOURCE


def unavailable_reason() -> str | None:
    """None if an OpenCL device with float64 is present and builds the kernels, else why not.
    Building is part of the probe: an OpenCL CPU driver whose compiler does not know the host
    CPU (PoCL on some virtual machines: "unknown target CPU 'generic'") has a device but cannot
    run anything on it."""
    if importlib.util.find_spec("pyopencl") is None:
        return "pyopencl is not installed (pip install 'tickaccel[opencl]')"
    try:
        _program()
    except Exception as exc:  # no platform, no device, no fp64, no build: all reported, never raised
        return f"no usable OpenCL device: {' '.join(str(exc).split())}"
    return None


@functools.cache
def _context():
    import pyopencl as cl

    for platform in cl.get_platforms():
        for device in platform.get_devices():
            if "cl_khr_fp64" in device.extensions:
                return cl.Context([device])
    raise RuntimeError("no OpenCL device supports double precision (cl_khr_fp64)")


@functools.cache
def _program():
    import pyopencl as cl

    context = _context()
    return context, cl.CommandQueue(context), cl.Program(context, SOURCE).build()


class OpenClKernels(DeviceKernels):
    """Shared kernels on an OpenCL device; arrays stay NumPy on the host between calls."""

    name = "opencl"
    xp = np

    def __init__(self) -> None:
        self._context, self._queue, program = _program()
        self._kernels = {k.function_name: k for k in program.all_kernels()}

    def launch(self, kernel: str, items: int, *args) -> None:
        import pyopencl as cl

        if items == 0:
            return
        flags = cl.mem_flags
        buffers = []
        for arg in args:
            if isinstance(arg, np.ndarray):
                host = np.ascontiguousarray(arg) if len(arg) else np.zeros(1, arg.dtype)
                buffers.append((arg, cl.Buffer(self._context, flags.READ_WRITE | flags.COPY_HOST_PTR,
                                               hostbuf=host)))
        it = iter(b for _, b in buffers)
        device_args = [next(it) if isinstance(a, np.ndarray) else a for a in args]
        groups = -(-items // self.scan_block)
        self._kernels[kernel](self._queue, (groups * self.scan_block,), (self.scan_block,), *device_args)
        for host, buffer in buffers:
            if len(host) and host.flags.writeable:
                cl.enqueue_copy(self._queue, host, buffer)
        self._queue.finish()
