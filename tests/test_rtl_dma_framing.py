"""The DMA framing blocks on their own: dma_frame_splitter (MM2S buffers to frames) and
bbo_dma_packetizer (records to S2MM packets), under random idle input and random backpressure."""
from __future__ import annotations

import pytest
from tickaccel.fpga.sim_board import simulate
from tickaccel.sim import runner

pytestmark = pytest.mark.skipif(not runner.available_simulators(),
                                reason="no HDL simulator (iverilog or verilator) installed")


@pytest.mark.parametrize("data_width", [64, 128])
def test_splitter_cuts_each_mm2s_buffer_into_its_frames(data_width):
    simulate("dma_frame_splitter", ("dma_frame_splitter.v",), "tickaccel.sim.tb_dma_splitter",
             {"DATA_WIDTH": data_width})


# RECORDS_PER_PACKET 1 closes every packet by count; the others mix count and idle closes.
@pytest.mark.parametrize("records_per_packet, idle_cycles, data_width",
                         [(1, 16, 64), (5, 16, 64), (8, 40, 128)])
def test_packetizer_sends_record_slots_in_packets_closed_by_count_or_idle(records_per_packet, idle_cycles,
                                                                          data_width):
    params = {"RECORDS_PER_PACKET": records_per_packet, "IDLE_CYCLES": idle_cycles, "DATA_WIDTH": data_width}
    simulate("bbo_dma_packetizer", ("bbo_dma_packetizer.v",), "tickaccel.sim.tb_dma_packetizer", params,
             env={"TB_RECORDS_PER_PACKET": str(records_per_packet), "TB_IDLE_CYCLES": str(idle_cycles)})
