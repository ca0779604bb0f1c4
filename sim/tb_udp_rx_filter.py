"""cocotb testbench of udp_rx_filter: faulty frames in, UDP payloads and drop strobes out, against `model`."""
from __future__ import annotations

import cocotb
from cocotb.triggers import ClockCycles, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from tickaccel.sim import bench, model

STATS = ["frame_in", "frame_passed", "drop_not_ipv4", "drop_fragment", "drop_checksum", "drop_not_udp",
         "drop_length", "drop_filtered", "drop_runt", "drop_frame_error", "drop_truncated"]
COUNTER_OF = {"frame_in": "frames_in", "frame_passed": "frames_passed"}

# Waits for output give up after this much simulated time, so a regressed RTL fails instead of hanging.
OUTPUT_TIMEOUT_US = 1000


@cocotb.test()
async def test_payloads_and_drop_reasons_match_model(dut):
    """Passed frames give their UDP payload (tuser on faulty ends); every frame gets one reason."""
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
    source.set_pause_generator(bench.pauses(1, 0.2))
    sink.set_pause_generator(bench.pauses(2, 0.4))
    dut.cfg_enable.value = 1
    dut.cfg_dest_ip.value = model.ip_to_int(model.DEST_IP)
    dut.cfg_dest_port.value = model.DEST_PORT
    await bench.start(dut)
    tally = bench.count_strobes(dut, STATS)
    frames, expected = bench.stimulus()
    for frame in frames:
        await source.send(AxiStreamFrame(frame.data, tuser=int(frame.error)))
    for i, (payload, bad) in enumerate(expected.udp_payloads):
        got = await with_timeout(sink.recv(), OUTPUT_TIMEOUT_US, "us")
        assert bytes(got.tdata) == payload, f"payload {i}"
        user = got.tuser if isinstance(got.tuser, int) else got.tuser[-1]
        assert user == int(bad), f"payload {i} tuser"
    await with_timeout(source.wait(), OUTPUT_TIMEOUT_US, "us")
    await ClockCycles(dut.clk, 20)
    assert sink.empty()
    for name in STATS:
        want = expected.counters[COUNTER_OF.get(name, name)]
        assert tally[name] == want, f"stat_{name}: {tally[name]} != {want}"
    assert sum(tally[n] for n in STATS[1:]) == len(frames), "a frame without exactly one verdict"
