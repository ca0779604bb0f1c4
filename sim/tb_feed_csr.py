"""cocotb testbench of feed_csr: AXI4-Lite configuration read-back and counters, addressed from `tickaccel.schema.csr`."""
from __future__ import annotations

import cocotb
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from tickaccel.schema import csr
from tickaccel.sim import bench


@cocotb.test()
async def test_configuration_status_and_counters(dut):
    """Writes reach cfg_*, status and counters read at the table's offsets, unmapped reads are 0."""
    axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
    dut.stat_inc.value = 0
    dut.status.value = 0
    await bench.start(dut)
    assert await axil.read_dword(csr.offset("device_id")) == csr.DEVICE_ID
    await axil.write_dword(csr.offset("filter_ip"), 0xE9360C6F)
    await axil.write_dword(csr.offset("filter_port"), 26400)
    await axil.write_dword(csr.offset("control"), 1)
    assert int(dut.cfg_dest_ip.value) == 0xE9360C6F
    assert int(dut.cfg_dest_port.value) == 26400
    assert int(dut.cfg_enable.value) == 1

    status_names = [r.name for r in csr.REGISTERS if r.access == "status"]
    dut.status.value = sum((0x1000 + i) << (32 * i) for i in range(len(status_names)))
    for i, name in enumerate(status_names):
        assert await axil.read_dword(csr.offset(name)) == 0x1000 + i

    # counter k counts k+1 per cycle for 5 cycles
    await RisingEdge(dut.clk)
    dut.stat_inc.value = sum((k + 1) << (32 * k) for k in range(len(csr.COUNTERS)))
    await ClockCycles(dut.clk, 5)
    dut.stat_inc.value = 0
    for k, name in enumerate(csr.COUNTERS):
        assert await axil.read_dword(csr.offset(name)) == 5 * (k + 1), name
    assert await axil.read_dword(0xFFC) == 0
