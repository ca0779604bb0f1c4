"""The RTL feed handler against the host model: generated feeds with faults, every record and counter."""
from __future__ import annotations

import json

import dpkt
import pytest

from rtl import needs_verilator
from tickaccel.feed import generator
from tickaccel.sim import model, runner

pytestmark = pytest.mark.skipif(not runner.available_simulators(),
                                reason="no HDL simulator (iverilog or verilator) installed")


SIMULATORS = [pytest.param(name, marks=pytest.mark.skipif(name not in runner.available_simulators(),
                                                         reason=f"{name} not installed"))
              for name in ("icarus", "verilator")]


def _run(tmp_path, data_width: int, frames: list[model.Frame], testcase: str, simulator: str | None = None,
         **env: str) -> None:
    stimulus = tmp_path / "stimulus.pkl"
    model.write_stimulus(stimulus, frames)
    runner.run("feed_handler", "tb_feed_handler", {"DATA_WIDTH": data_width}, testcase=testcase,
               env={"TB_STIMULUS": str(stimulus), "TB_DATA_WIDTH": str(data_width), **env},
               simulator=simulator)


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_faulty_feed_matches_host_under_idle_and_backpressure(tmp_path, simulator):
    frames = model.feed_frames(3000, seed=11, fault_rate=0.5)
    _run(tmp_path, 64, frames, "test_feed_matches_model", simulator, TB_IDLE="1", TB_BACKPRESSURE="1")


def _generated_pcap(tmp_path, messages: int, seed: int) -> tuple[list[model.Frame], dict]:
    """Frames of a pcap written by the generator with every kind of pcap fault, and its sidecar."""
    path = tmp_path / "feed.pcap"
    generator.write_feed(path, generator.GeneratorConfig(n_messages=messages, n_symbols=20, seed=seed),
                         faults={kind: 0.15 for kind in generator.PCAP_FAULTS})
    sidecar = json.loads((tmp_path / "feed.pcap.faults.json").read_text())
    with open(path, "rb") as stream:
        frames = [model.Frame(bytes(frame)) for _, frame in dpkt.pcap.Reader(stream)]
    return frames, sidecar


@pytest.mark.parametrize("data_width", [64, pytest.param(32, marks=pytest.mark.slow),
                                        pytest.param(128, marks=pytest.mark.slow)])
def test_generator_pcap_faults_match_host(tmp_path, data_width):
    frames, sidecar = _generated_pcap(tmp_path, 3000, seed=data_width)
    assert len(frames) == sidecar["frames"]
    assert len({fault["kind"].split(":")[0] for fault in sidecar["faults"]}) >= 4, sidecar["faults"]
    expected = model.FeedHandlerModel(data_width).run(frames).counters
    assert expected["gaps"] and expected["dup_packets"], "the faults left sequencing untouched"
    _run(tmp_path, data_width, frames, "test_feed_matches_model", TB_IDLE="1", TB_BACKPRESSURE="1",
         TB_SEED=str(data_width))


# (min, max) cycles from the edge taking the beat with a message's last byte to the edge taking
# its record: two registers in udp_rx_filter (check, verdict), two in moldudp64_rx (input,
# output), three in itch_extract (align, complete, emit), one in itch_decode. At 128 bit a beat
# holding a 14-byte block's type byte near its start is looked at twice: the messages after it
# in the packet leave a cycle later per such beat (two in this feed).
LATENCY_CYCLES = {32: (8, 8), 64: (8, 8), 128: (8, 10)}


@pytest.mark.parametrize("data_width", [64, pytest.param(32, marks=pytest.mark.slow),
                                        pytest.param(128, marks=pytest.mark.slow)])
def test_clean_feed_one_beat_per_cycle_and_latency(tmp_path, data_width):
    frames = model.feed_frames(1500, seed=2)
    figures = tmp_path / "figures.json"
    _run(tmp_path, data_width, frames, "test_measure_throughput_and_latency", TB_MEASURE=str(figures))
    measured = json.loads(figures.read_text())
    assert measured["beats_per_cycle"] == 1.0
    assert (measured["latency_min"], measured["latency_max"]) == LATENCY_CYCLES[data_width], measured


def test_sequence_numbers_across_32_bits_match_host(tmp_path):
    # sequence numbers run across 2^32: the registered carry between the halves of itch_extract's
    # sequence increment and moldudp64_rx's chunked sequence arithmetic, with gaps and duplicates
    feed = generator.generate(600, 20, 5)
    frames = model.inject_faults(model.build_frames(feed.tobytes(), first_seq=2**32 - 300, vlan_every=7),
                                 seed=7, rate=0.3)
    expected = model.FeedHandlerModel(64).run(frames)
    assert any(first < 2**32 < first + count for first, count in expected.gaps), expected.gaps
    assert expected.counters["dup_packets"], "the faults left sequencing untouched"
    _run(tmp_path, 64, frames, "test_feed_matches_model", TB_IDLE="1", TB_BACKPRESSURE="1")


def test_registers_and_disabled_filter(tmp_path):
    frames = model.feed_frames(200, seed=3, n_symbols=5)
    _run(tmp_path, 64, frames, "test_registers_read_back,test_disabled_handler_passes_nothing")


@pytest.mark.slow
@pytest.mark.parametrize("data_width", [32, 64, 128])
def test_faulty_feed_matches_host_at_every_width(tmp_path, data_width):
    frames = model.feed_frames(20000, seed=data_width, fault_rate=0.3)
    _run(tmp_path, data_width, frames, "test_feed_matches_model", TB_IDLE="1", TB_BACKPRESSURE="1",
         TB_SEED=str(data_width))


@pytest.mark.slow
@needs_verilator
def test_million_message_feed_matches_host(tmp_path):
    frames = model.feed_frames(1_000_000, seed=7, fault_rate=0.02, n_symbols=500)
    _run(tmp_path, 64, frames, "test_feed_matches_model", "verilator")
