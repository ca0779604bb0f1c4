"""Captures: Ethernet/IPv4/UDP parsing, pcap and pcapng reading, and fault counts the generator predicts."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tickaccel.schema import itch
from tickaccel.feed.binaryfile import frame_messages, record_offsets
from tickaccel.feed.capture import ipv4_checksum, read_capture, udp_frame, udp_payload, write_pcap
from tickaccel.errors import ErrorLog
from tickaccel.feed.generator import GeneratorConfig, generate_feed, write_feed
from tickaccel.feed.moldudp64 import build_packets, end_of_session

PAYLOAD = b"moldudp64 would be here, 20+ bytes"


def test_frames_with_and_without_a_vlan_tag_give_back_their_payload():
    for vlan in (None, 42):
        frame = udp_frame(PAYLOAD, vlan=vlan, dst_port=5000)
        assert udp_payload(frame) == (None, PAYLOAD)
        assert udp_payload(frame + b"\0" * 10) == (None, PAYLOAD)  # Ethernet padding
        assert udp_payload(frame, udp_port=5000) == (None, PAYLOAD)
        assert udp_payload(frame, udp_port=5001) == ("wrong_port", b"")


def _with_ip_header(frame: bytes, header: bytes) -> bytes:
    """``frame`` with its IPv4 header replaced (checksum recomputed)."""
    header = header[:10] + ipv4_checksum(header).to_bytes(2, "big") + header[12:]
    return frame[:14] + header + frame[34:]


def test_ip_options_are_skipped():
    frame = udp_frame(PAYLOAD)
    header = bytearray(frame[14:34] + b"\x01\x01\x01\x01")  # four NOP options
    header[0] = 0x46
    header[2:4] = (len(frame) - 14 + 4).to_bytes(2, "big")
    assert udp_payload(_with_ip_header(frame, bytes(header))) == (None, PAYLOAD)


@pytest.mark.parametrize("kind, mangle", [
    ("non_ip_frame", lambda f: f[:12] + b"\x86\xdd" + f[14:]),
    ("non_udp_frame", lambda f: udp_frame(PAYLOAD, protocol=6)),
    ("bad_ip_checksum", lambda f: f[:24] + bytes([f[24] ^ 1]) + f[25:]),
    ("malformed_frame", lambda f: f[:10]),
    ("malformed_frame", lambda f: f[:-1]),  # IP total length claims more than the frame holds
    ("malformed_frame", lambda f: f[:38] + b"\xff\xff" + f[40:]),  # UDP length past the IP packet
])
def test_unusable_frames_are_named_by_kind(kind, mangle):
    assert udp_payload(mangle(udp_frame(PAYLOAD)))[0] == kind


def test_fragments_are_recognised():
    frame = udp_frame(PAYLOAD)
    for flags in (b"\x20\x00", b"\x00\x10"):  # more fragments; a fragment offset
        header = frame[14:20] + flags + frame[22:34]
        assert udp_payload(_with_ip_header(frame, header))[0] == "ip_fragment"


def _messages(n):
    return [itch.encode_message(itch.make("D", order_ref=i + 1)) for i in range(n)]


@pytest.mark.parametrize("pcapng", [False, True])
def test_pcap_and_pcapng_read_back_every_message_with_its_sequence(tmp_path, pcapng):
    messages = _messages(500)
    frames = [udp_frame(p) for p in build_packets(messages, "CAP", max_messages=13)]
    frames.append(udp_frame(end_of_session("CAP", 501)))
    path = tmp_path / ("feed.pcapng" if pcapng else "feed.pcap")
    write_pcap(path, frames, [1_700_000_000_123_456_789 + 1000 * i for i in range(len(frames))], pcapng=pcapng)
    for chunk_bytes in (1, 300, 1 << 20):
        errors = ErrorLog()
        chunks = list(read_capture(path, errors=errors, chunk_bytes=chunk_bytes))
        assert errors.total() == 0
        assert b"".join(c.data.tobytes() for c in chunks) == frame_messages(messages)
        seqs = np.concatenate([c.seqs for c in chunks])
        assert seqs.tolist() == list(range(1, 501))
        assert all(c.first_seq == c.seqs[0] and c.base_offset == -1 for c in chunks)


def test_pcap_keeps_nanosecond_timestamps(tmp_path):
    write_pcap(tmp_path / "t.pcap", [udp_frame(PAYLOAD)], [1_700_000_000_123_456_789])
    raw = (tmp_path / "t.pcap").read_bytes()
    assert raw[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")  # the nanosecond magic
    order = "little" if raw[0] == 0x4D else "big"
    assert int.from_bytes(raw[24:28], order) == 1_700_000_000
    assert int.from_bytes(raw[28:32], order) == 123_456_789


@pytest.fixture(scope="module")
def faulty_pcap(tmp_path_factory):
    path = tmp_path_factory.mktemp("cap") / "faulty.pcap"
    config = GeneratorConfig(n_messages=120_000, n_symbols=60, seed=11)
    write_feed(path, config, faults="drop=0.01,duplicate=0.01,reorder=0.01,corrupt=0.03,truncate=0.015",
               packet_messages=20)
    return path, config, json.loads(path.with_name(path.name + ".faults.json").read_text())


def test_every_fault_kind_appears_in_the_sidecar(faulty_pcap):
    kinds = {f["kind"].split(":")[0] for f in faulty_pcap[2]["faults"]}
    assert kinds == {"drop", "duplicate", "reorder", "corrupt", "truncate", "junk"}


@pytest.mark.parametrize("port_filter", [False, True])
def test_fault_counts_equal_the_sidecar_prediction(faulty_pcap, port_filter):
    path, config, sidecar = faulty_pcap
    errors = ErrorLog()
    chunks = list(read_capture(path, errors=errors, chunk_bytes=200_000,
                               udp_port=sidecar["udp_port"] if port_filter else None))
    expected = sidecar["expected_errors_port_filter" if port_filter else "expected_errors"]
    assert errors.counts == expected
    # Every message not lost arrives once, in order, byte for byte unless it was deliberately corrupted.
    lost = {s for first, count in sidecar["lost"] for s in range(first, first + count)}
    seqs = np.concatenate([c.seqs for c in chunks])
    assert seqs.tolist() == [s for s in range(1, config.n_messages + 1) if s not in lost]
    clean = generate_feed(config)
    clean_offsets = record_offsets(clean)
    corrupted = {seq for seq, _ in sidecar["bad_messages"]}
    got = b"".join(c.data.tobytes() for c in chunks)
    got_offsets = record_offsets(np.frombuffer(got, np.uint8))
    for seq, offset in zip(seqs[::97].tolist(), got_offsets[::97].tolist()):
        if seq in corrupted:
            continue
        start = int(clean_offsets[seq - 1])
        size = 2 + int.from_bytes(clean[start:start + 2].tobytes(), "big")
        assert got[offset:offset + size] == clean[start:start + size].tobytes()
