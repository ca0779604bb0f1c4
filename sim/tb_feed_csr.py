"""cocotb testbench of feed_csr: AXI4-Lite configuration read-back and counters, addressed from `tickaccel.schema.csr`."""
from __future__ import annotations

import cocotb
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from tickaccel.schema import csr
from tickaccel.sim import bench

# An access answers within this much simulated time, or the test fails instead of hanging.
ACCESS_TIMEOUT_NS = 1000


@cocotb.test()
async def test_configuration_status_and_counters(dut):
    """Writes reach cfg_*, status and counters read at the table's offsets, unmapped reads are 0."""
    master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)

    async def read(address: int) -> int:
        return await with_timeout(master.read_dword(address), ACCESS_TIMEOUT_NS, "ns")

    async def write(address: int, value: int) -> None:
        await with_timeout(master.write_dword(address, value), ACCESS_TIMEOUT_NS, "ns")

    dut.stat_inc.value = 0
    dut.status.value = 0
    await bench.start(dut)
    assert await read(csr.offset("device_id")) == csr.DEVICE_ID
    await write(csr.offset("filter_ip"), 0xE9360C6F)
    await write(csr.offset("filter_port"), 26400)
    await write(csr.offset("control"), 1)
    assert int(dut.cfg_dest_ip.value) == 0xE9360C6F
    assert int(dut.cfg_dest_port.value) == 26400
    assert int(dut.cfg_enable.value) == 1

    status_names = [r.name for r in csr.REGISTERS if r.access == "status"]
    dut.status.value = sum((0x1000 + i) << (32 * i) for i in range(len(status_names)))
    for i, name in enumerate(status_names):
        assert await read(csr.offset(name)) == 0x1000 + i

    # counter k counts k+1 per cycle for 5 cycles
    await RisingEdge(dut.clk)
    dut.stat_inc.value = sum((k + 1) << (32 * k) for k in range(len(csr.COUNTERS)))
    await ClockCycles(dut.clk, 5)
    dut.stat_inc.value = 0
    for k, name in enumerate(csr.COUNTERS):
        assert await read(csr.offset(name)) == 5 * (k + 1), name
    assert await read(0xFFC) == 0

    # increments that carry out of a counter's low half and wrap it past 2^32
    increments = [0xFFFF + k * 0x0501_0203 for k in range(len(csr.COUNTERS))]
    await RisingEdge(dut.clk)
    dut.stat_inc.value = sum(inc << (32 * k) for k, inc in enumerate(increments))
    await ClockCycles(dut.clk, 3)
    dut.stat_inc.value = 0
    for k, name in enumerate(csr.COUNTERS):
        assert await read(csr.offset(name)) == (5 * (k + 1) + 3 * increments[k]) % 2**32, name
