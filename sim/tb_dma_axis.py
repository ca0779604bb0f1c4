"""What the DMA framing testbenches share: a stream-rule monitor and bursty pause patterns."""
from __future__ import annotations

import itertools
import random

from cocotb.triggers import ReadOnly, RisingEdge


class HoldChecker:
    """Fails on any cycle where a stalled beat (tvalid high, tready low) changed or was withdrawn.

    AXI-Stream lets a master change nothing once it offers a beat: an AXI DMA
    S2MM or a FIFO may sample the beat on whichever cycle it raises tready.
    Checked signals are the named ``m_axis_*`` ones the port has.
    """

    def __init__(self, dut, names: tuple[str, ...] = ("tdata", "tkeep", "tlast", "tuser")) -> None:
        self.signals = [(n, getattr(dut, f"m_axis_{n}")) for n in names if hasattr(dut, f"m_axis_{n}")]
        self.dut = dut
        self.stalls = 0  # stalled cycles seen: proves the backpressure reached the port

    async def run(self) -> None:
        valid, ready = self.dut.m_axis_tvalid, self.dut.m_axis_tready
        held = None
        while True:
            await RisingEdge(self.dut.clk)
            await ReadOnly()
            now = {n: int(s.value) for n, s in self.signals}
            if held is not None:
                assert int(valid.value), "tvalid dropped before the stalled beat was taken"
                assert now == held, f"stalled beat changed: {held} -> {now}"
            stalled = int(valid.value) and not int(ready.value)
            self.stalls += stalled
            held = now if stalled else None


def bursty_pauses(seed: int, fraction: float, long_every: int, long_cycles: int):
    """Random single-cycle pauses at `fraction`, and every ~`long_every` cycles a run of `long_cycles`.

    The long runs are what makes timeouts fire and stalls outlast a beat.
    """
    rng = random.Random(seed)
    for _ in itertools.count():
        if rng.randrange(long_every) == 0:
            for _ in range(rng.randrange(long_cycles // 2, long_cycles + 1)):
                yield True
        yield rng.random() < fraction
