"""The simulated hardware backend: same bbo.parquet as the CPU replay, the RTL's counters in the summary."""
from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from feeds import faulty_capture
from rtl import needs_verilator
from tickaccel.feed import generator
from tickaccel.feed.capture import udp_frame, write_pcap
from tickaccel.errors import BackendUnavailable
from tickaccel.feed.moldudp64 import build_packets
from tickaccel.batch.cpu import replay_cpu
from tickaccel.hw.params import BookParams
from tickaccel.sim import runner
from tickaccel.batch.sim import replay_sim

needs_simulator = pytest.mark.skipif(not runner.available_simulators(),
                                     reason="no HDL simulator (iverilog or verilator) installed")
PARAMS = BookParams(max_symbols=256, order_bucket_bits=12, order_ways=4, levels=32, top_n=8)


@needs_simulator
def test_binaryfile_replays_to_the_oracle_table(tmp_path):
    feed = tmp_path / "feed.itch"
    feed.write_bytes(generator.generate(3000, 60, 41).tobytes())
    seen = []
    summary = replay_sim(feed, tmp_path / "sim", params=PARAMS,
                         progress=lambda sent, total: seen.append((sent, total)))
    replay_cpu(feed, tmp_path / "cpu", engine="oracle")
    sim = pq.read_table(tmp_path / "sim" / "bbo.parquet")
    cpu = pq.read_table(tmp_path / "cpu" / "bbo.parquet")
    assert sim.num_rows > 100 and sim.equals(cpu)
    assert summary["stale_symbols"] == {}
    cpu_summary = json.loads((tmp_path / "cpu" / "summary.json").read_text())
    assert summary["message_counts"] == cpu_summary["message_counts"]
    assert json.loads((tmp_path / "sim" / "summary.json").read_text())["rtl"]["counters"]["book"]["events"] > 0
    assert seen and seen[-1][0] == seen[-1][1]


@needs_simulator
def test_pcap_frames_go_through_as_they_are(tmp_path):
    data = generator.generate(2000, 40, 42).tobytes()
    frames = [udp_frame(p, dst_ip="239.1.2.3", dst_port=30001, ident=i)
              for i, p in enumerate(build_packets(data, "SESSION001", first_seq=1))]
    pcap = tmp_path / "feed.pcap"
    write_pcap(pcap, frames)
    summary = replay_sim(pcap, tmp_path / "sim", params=PARAMS)
    replay_cpu(pcap, tmp_path / "cpu", engine="fast")
    assert pq.read_table(tmp_path / "sim" / "bbo.parquet").equals(pq.read_table(tmp_path / "cpu" / "bbo.parquet"))
    assert summary["format"] == "pcap"


@needs_simulator
def test_top_n_output_replays_to_the_oracle_depth_table(tmp_path):
    feed = tmp_path / "feed.itch"
    feed.write_bytes(generator.generate(2000, 40, 43).tobytes())
    summary = replay_sim(feed, tmp_path / "sim", params=PARAMS, depth=5)
    replay_cpu(feed, tmp_path / "cpu", engine="oracle", depth=5)
    for name in ("bbo", "depth"):
        sim = pq.read_table(tmp_path / "sim" / f"{name}.parquet")
        assert sim.num_rows > 100 and sim.equals(pq.read_table(tmp_path / "cpu" / f"{name}.parquet"))
    assert summary["rows"]["depth"] > 0 and summary["rtl"]["parameters"]["DEPTH_OUT"] == 5


def test_missing_simulator_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "available_simulators", list)
    feed = tmp_path / "feed.itch"
    feed.write_bytes(generator.generate(200, 5, 1).tobytes())
    with pytest.raises(BackendUnavailable, match="iverilog"):
        replay_sim(feed, tmp_path / "out", simulator=None)
    with pytest.raises(BackendUnavailable, match="'verilator'"):
        replay_sim(feed, tmp_path / "out", simulator="verilator")


@pytest.mark.slow
@needs_verilator
def test_million_message_capture_replays_to_the_oracle_table(tmp_path):
    # thousands of symbols; lost, duplicated and foreign frames, rarely enough that the orders
    # the lost deletes leave behind stay within the book's capacities over 10^6 messages
    pcap = tmp_path / "feed.pcap"
    faulty_capture(pcap, generator.generate(1_010_000, 3000, 44).tobytes(), seed=44, rate=0.005)
    params = BookParams(max_symbols=4096, order_bucket_bits=17, order_ways=4, levels=128, top_n=8)
    summary = replay_sim(pcap, tmp_path / "sim", params=params, simulator="verilator")
    cpu = replay_cpu(pcap, tmp_path / "cpu", engine="oracle")
    sim_table = pq.read_table(tmp_path / "sim" / "bbo.parquet")
    assert summary["messages"] >= 1_000_000 and summary["stale_symbols"] == {}
    assert sim_table.num_rows > 200_000 and sim_table.equals(pq.read_table(tmp_path / "cpu" / "bbo.parquet"))
    assert summary["message_counts"] == cpu["message_counts"]
    assert summary["rtl"]["counters"]["feed"]["dup_packets"] > 0 and summary["rtl"]["counters"]["feed"]["gaps"] > 0


@needs_simulator
def test_a_failed_simulation_is_a_failed_replay_with_its_summary(tmp_path, monkeypatch, capsys):
    from tickaccel.cli import main
    from tickaccel.sim import book_runner

    def failing_testbench(*args, **kwargs):
        raise AssertionError("test_replay failed")

    monkeypatch.setattr(book_runner, "run", failing_testbench)
    feed = tmp_path / "feed.itch"
    feed.write_bytes(generator.generate(500, 10, 3).tobytes())
    assert main(["replay", str(feed), "-o", str(tmp_path / "out"), "--backend", "sim"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SimulationFailed" in err and "sim.log" in err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert "SimulationFailed" in summary["failed"] and "replay_failed" in summary["errors"]
