"""The MoldUDP64 publisher: packet cutting, fault spec, retransmission buffer, re-request server."""
from __future__ import annotations

import socket

import numpy as np
import pytest
from feeds import binaryfile, chunk, random_messages, split
from tickaccel.errors import TickaccelError
from tickaccel.feed.moldudp64 import build_request, parse_packet
from tickaccel.live.player import (
    FaultSpec,
    Publisher,
    RetransmissionBuffer,
    packets_from_chunks,
    parse_address,
)


def test_packets_carry_every_record_once_with_its_sequence():
    data = binaryfile(random_messages(3, 400, 5))
    packets = list(packets_from_chunks(split(data, 5000), max_payload=300))
    assert b"".join(p.payload for p in packets) == data
    assert all(len(p.payload) <= 300 for p in packets)
    expected_first = 1
    for p in packets:
        assert p.first_seq == expected_first
        expected_first += p.count
    assert expected_first - 1 == len(random_messages(3, 400, 5))


def test_packets_break_where_capture_sequences_jump():
    data = binaryfile(random_messages(1, 6, 2))
    n = len(random_messages(1, 6, 2))
    seqs = list(range(10, 10 + n // 2)) + list(range(100, 100 + n - n // 2))
    packets = list(packets_from_chunks([chunk(data, seqs=seqs)]))
    assert [p.first_seq for p in packets] == [10, 100]
    assert sum(p.count for p in packets) == n


def test_fault_spec_parses_and_rejects():
    spec = FaultSpec.parse("drop=0.1, duplicate=0.02,reorder=0.5,seed=9")
    assert (spec.drop, spec.duplicate, spec.reorder, spec.seed) == (0.1, 0.02, 0.5, 9)
    assert not FaultSpec.parse("").active()
    for bad in ("drop", "lose=0.1", "drop=2", "drop=x", "dup=0.1", "corrupt=0.1", "seed=1.5"):
        with pytest.raises(TickaccelError):
            FaultSpec.parse(bad)


def test_parse_address_rejects_garbage():
    assert parse_address("127.0.0.1:9000") == ("127.0.0.1", 9000)
    for bad in ("127.0.0.1", ":9", "host:port", "h:70000"):
        with pytest.raises(TickaccelError):
            parse_address(bad)


def test_retransmission_buffer_is_bounded_and_slices_packets():
    data = binaryfile(random_messages(2, 300, 3))
    packets = list(packets_from_chunks(split(data, 1 << 20), max_payload=200))
    total = sum(p.count for p in packets)
    buf = RetransmissionBuffer(capacity=100)
    for p in packets:
        buf.add(p)
    assert buf.messages <= 100 + max(p.count for p in packets)
    oldest = buf.oldest
    got, missing = buf.lookup(total - 20, 10)
    assert missing == 0 and sum(p.count for p in got) == 10
    assert got[0].first_seq == total - 20
    records = b"".join(p.payload for p in got)
    offsets = [0]
    while offsets[-1] < len(data):
        offsets.append(offsets[-1] + 2 + int.from_bytes(data[offsets[-1]:offsets[-1] + 2], "big"))
    assert records == data[offsets[total - 21]:offsets[total - 11]]
    got, missing = buf.lookup(1, oldest + 4)  # reaches back past the buffer
    assert missing == oldest - 1 and got[0].first_seq == oldest


def _request_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    return sock


def test_rerequest_server_answers_from_its_buffer_and_counts_the_rest():
    data = binaryfile(random_messages(4, 200, 3))
    sink = _request_socket()
    publisher = Publisher([chunk(data)], sink.getsockname(), rerequest_port=0,
                          retransmit_capacity=50, max_payload=200, session="TEST")
    try:
        stats = publisher.run()
        while True:  # drain the live stream
            sink.settimeout(0.2)
            try:
                sink.recv(2048)
            except TimeoutError:
                break
        sink.settimeout(2.0)
        last = stats.next_seq - 1
        sink.sendto(build_request("TEST", last - 9, 20), publisher.rerequest_address)
        sink.sendto(b"junk", publisher.rerequest_address)
        sink.sendto(build_request("OTHER", 1, 5), publisher.rerequest_address)
        sink.sendto(build_request("TEST", 1, 3), publisher.rerequest_address)
        publisher.serve_requests(timeout_ms=1000)
        got = []
        while sum(p.n_blocks for p in got) < 10:
            got.append(parse_packet(sink.recv(2048)))
        assert got[0].seq == last - 9 and sum(p.n_blocks for p in got) == 10
        assert publisher.stats.rerequests == 2
        assert publisher.stats.bad_rerequests == 2
        # 10 asked for beyond the last sent, 3 older than the buffer keeps.
        assert publisher.stats.messages_unavailable == 13
    finally:
        publisher.close()
        sink.close()


def test_publisher_sends_end_of_session_after_the_data():
    data = binaryfile(random_messages(5, 50, 2))
    sink = _request_socket()
    publisher = Publisher([chunk(data)], sink.getsockname(), rate=50_000)
    try:
        stats = publisher.run()
        packets = []
        while not packets or not packets[-1].is_end_of_session:
            packets.append(parse_packet(sink.recv(2048)))
        assert sum(p.n_blocks for p in packets) == stats.messages
        assert packets[-1].seq == stats.next_seq
        blocks = b"".join(p.blocks for p in packets)
        assert np.array_equal(np.frombuffer(blocks, np.uint8), np.frombuffer(data, np.uint8))
    finally:
        publisher.close()
        sink.close()


def test_rate_and_realtime_exclude_each_other():
    with pytest.raises(TickaccelError):
        Publisher([], ("127.0.0.1", 9), rate=10, realtime=True)


def test_paced_sending_sleeps_between_bursts_instead_of_spinning():
    data = binaryfile(random_messages(6, 3_000, 5))
    sink = _request_socket()
    publisher = Publisher([chunk(data)], sink.getsockname(), rate=20_000)
    try:
        stats = publisher.run()
    finally:
        publisher.close()
        sink.close()
    planned = stats.messages / 20_000
    assert 0.9 * planned <= stats.seconds <= planned + 1.0
    assert stats.cpu_seconds < 0.5 * stats.seconds


def test_publish_command_shows_refusals_and_rejects_a_bad_allow_list(tmp_path, capsys):
    from tickaccel.cli import main

    path = tmp_path / "small.itch"
    path.write_bytes(binaryfile(random_messages(7, 50, 2)))
    sink = _request_socket()
    try:
        to = "127.0.0.1:%d" % sink.getsockname()[1]
        assert main(["publish", str(path), "--to", to, "--linger", "0",
                     "--allow", "10.0.0.0/8"]) == 0
        printed = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
        assert "0 refused (source not allowed), 0 rate-limited, 0 capped" in printed
        assert main(["publish", str(path), "--to", to, "--allow", "10.0.0.0/99"]) == 2
        assert "ADDR" in capsys.readouterr().err
    finally:
        sink.close()
