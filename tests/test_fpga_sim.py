"""The driver on the simulated board: the PYNQ transport code over feed_to_book_dma in RTL simulation
equals the CPU replay row for row, and reads the RTL's counters by name."""
from __future__ import annotations

import dataclasses
import json
import random

import pyarrow.parquet as pq
import pytest
from feeds import binaryfile, faulty_capture, ops_to_messages
from tickaccel.feed import generator
from tickaccel.fpga import BOARDS, open_device
from tickaccel.batch.cpu import replay_cpu
from tickaccel.batch.fpga import replay_fpga
from tickaccel.sim import runner

pytestmark = pytest.mark.skipif(not runner.available_simulators(),
                                reason="no HDL simulator (iverilog or verilator) installed")

# Small packets and a short idle timeout, so a few thousand messages make many S2MM packets.
SIM_BOARD = dataclasses.replace(BOARDS["pynq-z2"], records_per_packet=16, idle_us=2.0)


def test_faulty_capture_through_the_simulated_board_equals_the_cpu_replay(tmp_path):
    pcap = tmp_path / "feed.pcap"
    rng = random.Random(8)
    ops = [tuple(rng.randrange(1 << 16) for _ in range(4)) for _ in range(1500)]
    n_frames = faulty_capture(pcap, binaryfile(ops_to_messages(ops, n_symbols=12, faults=True)), seed=8,
                              max_payload=600)
    device = open_device("sim", sim_board=SIM_BOARD, backpressure=0.4, seed=3, batch_bytes=6144)
    try:
        summary = replay_fpga(pcap, tmp_path / "fpga", device=device, engine="sim:test")
        transport = device.transport
        emitted = device.read_register("bbo_updates") + device.read_register("book_symbol_updates")
        frames_in = device.read_register("frames_in")
    finally:
        device.close()
    cpu = replay_cpu(pcap, tmp_path / "cpu", engine="fast")

    got = pq.read_table(tmp_path / "fpga" / "bbo.parquet")
    want = pq.read_table(tmp_path / "cpu" / "bbo.parquet")
    assert got.num_rows > 500 and got.equals(want)
    for kind in ("unknown_order_ref", "overfill", "zero_share_add", "duplicate_order_ref"):
        assert summary["errors"].get(kind, {}).get("count", 0) == cpu["errors"].get(kind, {}).get("count", 0), kind
    assert summary["errors"]["unknown_order_ref"]["count"] > 0
    assert summary["message_counts"] == cpu["message_counts"]
    # DMA-like batching: several send buffers, the last one partial; many receive packets
    assert frames_in == n_frames == summary["dma"]["frames"]
    assert summary["dma"]["batches"] > 3 and summary["dma"]["bytes_sent"] % 6144
    assert emitted == summary["dma"]["records"] == got.num_rows + summary["rtl"]["counters"]["book"]["symbol_updates"]
    assert transport.packets_received == transport.board_summary["packets"] >= emitted // 16
    assert summary["rtl"]["counters"]["feed"]["dup_packets"] > 0
    assert summary["rtl"]["counters"]["feed"]["drop_not_udp"] > 0
    saved = json.loads((tmp_path / "fpga" / "summary.json").read_text())
    assert saved["rows"] == {"bbo": got.num_rows} and saved["engine"] == "sim:test"


def test_status_reads_the_simulated_rtls_registers_by_name(tmp_path, capsys):
    from tickaccel.cli import main

    assert main(["fpga", "status", "--backend", "sim", "--json"]) == 0
    values = json.loads(capsys.readouterr().out)
    assert values["feed_device_id"] == 0x54414346 and values["book_book_id"] == 0x54414342
    assert values["book_max_symbols"] == BOARDS["pynq-z2"].book.max_symbols
    assert values["book_levels_per_side"] == BOARDS["pynq-z2"].book.levels
    book = BOARDS["pynq-z2"].book
    assert values["book_level_pool"] == book.pool_blocks * book.pool_block_levels
    # no level yet: the blocks counted so far are those the sweep after reset has freed
    assert 0 < values["book_level_blocks_free"] <= book.pool_blocks
    assert values["feed_frames_in"] == 0


@pytest.mark.slow
def test_binaryfile_replay_on_the_simulated_board_with_board_sized_packets(tmp_path):
    feed = tmp_path / "feed.itch"
    # a feed the PYNQ-Z2's book holds (2 048 symbols, 4 K order slots, 16 levels a side): no stale
    # symbol (about 10 live orders a symbol)
    feed.write_bytes(generator.generate(15_000, 60, 12, target_depth=10).tobytes())
    device = open_device("sim", board_name="pynq-z2")
    try:
        summary = replay_fpga(feed, tmp_path / "fpga", device=device, engine="sim:pynq-z2")
    finally:
        device.close()
    replay_cpu(feed, tmp_path / "cpu", engine="fast")
    assert pq.read_table(tmp_path / "fpga" / "bbo.parquet").equals(pq.read_table(tmp_path / "cpu" / "bbo.parquet"))
    assert summary["stale_symbols"] == {}
    # more records than one packet holds: full packets, then one closed by the idle timeout
    assert summary["dma"]["records"] > BOARDS["pynq-z2"].records_per_packet
