"""The live receiver and the re-request server against a hostile network, on loopback.

Stray or forged datagrams must never take over the session, make real
messages look like duplicates, overflow the sequence arithmetic or end the
receiver without its outputs; the re-request server must never answer a
forged source or answer more than its limits.
"""
from __future__ import annotations

import json
import socket

import pyarrow as pa
import pytest
from feeds import binaryfile, chunk, random_messages
from test_live import FEED_MESSAGES, feed, offline_bbo, run_pair  # noqa: F401  (fixtures)
from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.feed.source import open_feed
from tickaccel.feed.moldudp64 import HEADER, build_request, end_of_session, parse_packet
from tickaccel.live.player import Publisher, packets_from_chunks
from tickaccel.live.receiver import LiveReceiver
from tickaccel.live.segments import read_segments
from tickaccel.live.sockets import SLOT_BYTES, AddressFilter, local_networks
from tickaccel.schema import itch


# A whole ITCH message as a MoldUDP64 message block: what a forged packet carries.
SYSTEM_EVENT_BLOCK = binaryfile([itch.make("S", event_code="O")])


def send_from(host: str, payloads: list[bytes], to: tuple[str, int]) -> None:
    """Send `payloads` from a socket bound to `host` (any 127.x.y.z works on loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        for payload in payloads:
            sock.sendto(payload, to)


def inject(*payloads: bytes, host: str = "127.0.0.1"):
    """A `run_pair` hook sending `payloads` to the receiver before the feed starts."""
    def hook(receiver, _publisher):
        send_from(host, list(payloads), receiver.address)
    return hook


def test_junk_datagram_first_does_not_take_the_session(feed, offline_bbo, tmp_path):
    junk = (b"J" * 40, HEADER.pack(b"JUNKJUNKJU", 7, 1) + b"\x00\x05hello")
    summary, _ = run_pair(feed, tmp_path, before=inject(*junk))
    assert summary["end_of_session"] and not summary["stale"]
    assert summary["messages"] == FEED_MESSAGES
    skipped = (summary["before_session_packets"] + summary["wrong_session_packets"]
               + summary["malformed_packets"])
    assert skipped == len(junk)
    assert read_segments(tmp_path).equals(offline_bbo)


def test_session_option_refuses_a_whole_packet_of_another_session(feed, offline_bbo, tmp_path):
    forged = HEADER.pack(b"FORGED    ", 1, 1) + SYSTEM_EVENT_BLOCK
    summary, publisher = run_pair(feed, tmp_path, before=inject(forged),
                                  session="TICKACCEL1")
    assert publisher.session == b"TICKACCEL1"
    assert summary["wrong_session_packets"] == 1
    assert summary["messages"] == FEED_MESSAGES and summary["end_of_session"]
    assert read_segments(tmp_path).equals(offline_bbo)


def test_session_option_rejects_a_name_too_long(tmp_path):
    with pytest.raises(TickaccelError):
        LiveReceiver(("127.0.0.1", 0), tmp_path, session="ELEVEN_CHARS")


@pytest.mark.parametrize("rerequest", [False, True])
def test_far_future_packet_is_held_and_never_given_up_to(feed, offline_bbo, tmp_path,
                                                         rerequest):
    """A recovery time shorter than the pauses between bursts: the lone packet far ahead
    confirms nothing, so no gap is given up or asked for, and every message is applied once."""
    future = HEADER.pack(b"TICKACCEL1", 10**12, 1) + SYSTEM_EVENT_BLOCK
    summary, _ = run_pair(feed, tmp_path, before=inject(future), rerequest=rerequest,
                          recovery_timeout=0.001, rate=40_000)
    assert summary["end_of_session"] and not summary["stale"]
    assert summary["messages"] == FEED_MESSAGES and summary["rerequests"] == 0
    assert summary["duplicate_messages"] == summary["messages_lost"] == 0
    assert summary["held_packets"] == 1
    assert read_segments(tmp_path).equals(offline_bbo)


def test_give_up_after_a_far_future_packet_drops_only_what_is_missing(feed, offline_bbo,
                                                                      tmp_path):
    future = HEADER.pack(b"TICKACCEL1", 10**12, 1) + SYSTEM_EVENT_BLOCK
    summary, publisher = run_pair(feed, tmp_path, before=inject(future), rerequest=False,
                                  faults="drop=0.02,seed=4", recovery_timeout=0.05)
    assert publisher.stats.dropped > 0 and summary["stale"]
    assert summary["end_of_session"]
    assert all(first + count <= FEED_MESSAGES + 1 for first, count in summary["unrecovered"])
    # Every message was applied exactly once or lost in a dropped packet: none twice.
    assert summary["messages"] + summary["messages_lost"] == FEED_MESSAGES
    assert summary["messages_lost"] < FEED_MESSAGES // 10
    first_lost = summary["unrecovered"][0][0]
    live = read_segments(tmp_path)
    before = live.filter(pa.compute.less(live["seq"], first_lost))
    assert before.equals(offline_bbo.slice(0, before.num_rows))


@pytest.mark.parametrize("count", [1, 2])
def test_last_sequence_number_is_counted_not_raised(feed, offline_bbo, tmp_path, count):
    """A packet at 2^64 - 1 cannot be followed by another sequence: it is malformed."""
    last = HEADER.pack(b"TICKACCEL1", 2**64 - 1, count) + SYSTEM_EVENT_BLOCK * count
    heartbeat = HEADER.pack(b"TICKACCEL1", 2**64 - 1, 0)
    summary, _ = run_pair(feed, tmp_path, before=inject(last, heartbeat),
                          session="TICKACCEL1", recovery_timeout=0.05)
    assert summary["malformed_packets"] == 1 and summary["failed"] is None
    assert summary["messages"] == FEED_MESSAGES
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["messages"] == FEED_MESSAGES
    assert read_segments(tmp_path).equals(offline_bbo)


def test_exception_in_the_loop_still_flushes_segments_and_summary(feed, offline_bbo, tmp_path,
                                                                   monkeypatch):
    def break_after_some_messages(receiver, _publisher):
        check_gap = receiver._check_gap

        def failing(now):
            if receiver.stats.messages > FEED_MESSAGES // 4:
                raise RuntimeError("injected")
            check_gap(now)

        monkeypatch.setattr(receiver, "_check_gap", failing)

    with pytest.raises(RuntimeError, match="injected"):
        run_pair(feed, tmp_path, before=break_after_some_messages)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["failed"] == "RuntimeError: injected"
    assert 0 < summary["messages"] < FEED_MESSAGES
    live = read_segments(tmp_path)
    assert live.num_rows == summary["rows"]["bbo"] > 0
    assert live.equals(offline_bbo.slice(0, live.num_rows))


def test_lost_last_packet_is_given_up_at_end_of_session_without_a_rerequest_server(tmp_path):
    """One end-of-session packet confirms the sequences below it: the receiver gives up the
    missing last packet after its recovery timeout and finishes, instead of waiting for ever."""
    receiver = LiveReceiver(("127.0.0.1", 0), tmp_path, recovery_timeout=0.2)
    session = b"TICKACCEL1"
    packets = [HEADER.pack(session, seq, 1) + SYSTEM_EVENT_BLOCK for seq in range(1, 5)]
    send_from("127.0.0.1", packets + [end_of_session(session, 6)], receiver.address)  # 5 is lost
    summary = receiver.run(duration=30.0)
    assert summary["end_of_session"]
    assert summary["messages"] == 4 and summary["messages_lost"] == 1 and summary["stale"]


def test_jumbo_datagrams_are_applied(feed, offline_bbo, tmp_path):
    jumbo = 9000
    assert SLOT_BYTES >= jumbo
    summary, publisher = run_pair(feed, tmp_path,
                                  publisher_options={"max_payload": jumbo - HEADER.size})
    assert summary["malformed_packets"] == 0 and summary["end_of_session"]
    sizes = [HEADER.size + len(p.payload) for p in
             packets_from_chunks(open_feed(feed, errors=ErrorLog()), jumbo - HEADER.size)]
    assert jumbo - 100 < max(sizes) <= jumbo and len(sizes) == publisher.stats.packets
    assert read_segments(tmp_path).equals(offline_bbo)


def test_source_filter_refuses_other_senders(feed, offline_bbo, tmp_path):
    """A whole packet of another session from another address would otherwise take over."""
    forged = HEADER.pack(b"FORGED    ", 1, 1) + SYSTEM_EVENT_BLOCK
    summary, _ = run_pair(feed, tmp_path, before=inject(forged, forged, host="127.0.0.2"),
                          source="127.0.0.1/32")
    assert summary["foreign_datagrams"] == 2
    assert summary["wrong_session_packets"] == 0
    assert summary["messages"] == FEED_MESSAGES
    assert read_segments(tmp_path).equals(offline_bbo)


def test_address_filter_parses_lists_and_rejects_garbage():
    allowed = AddressFilter("10.1.0.0/16, 127.0.0.1")
    assert allowed("10.1.200.3") and allowed("127.0.0.1")
    assert not allowed("10.2.0.1") and not allowed("127.0.0.2")
    for bad in ("10.0.0.0/33", "host", "::1"):
        with pytest.raises(TickaccelError):
            AddressFilter(bad)
    assert AddressFilter(local_networks())("127.0.0.1")  # the re-request server's default


def _served_publisher(sink: socket.socket, **options) -> Publisher:
    """A publisher that has sent a small feed to `sink`, whose live stream is drained."""
    data = binaryfile(random_messages(4, 300, 3))
    publisher = Publisher([chunk(data)], sink.getsockname(), rerequest_port=0,
                          max_payload=200, session="TEST", **options)
    publisher.run()
    sink.settimeout(0.2)
    while True:
        try:
            sink.recv(2048)
        except TimeoutError:
            return publisher


def _received_messages(sink: socket.socket) -> int:
    messages = 0
    sink.settimeout(0.3)
    while True:
        try:
            messages += parse_packet(sink.recv(2048)).n_blocks
        except TimeoutError:
            return messages


def test_rerequest_from_a_source_not_allowed_is_refused():
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    publisher = _served_publisher(sink, allow="10.0.0.0/8")
    try:
        sink.sendto(build_request("TEST", 1, 50), publisher.rerequest_address)
        publisher.serve_requests(timeout_ms=1000)
        assert publisher.stats.refused_rerequests == 1
        assert publisher.stats.rerequests == publisher.stats.messages_resent == 0
        assert _received_messages(sink) == 0
    finally:
        publisher.close()
        sink.close()


def test_burst_of_rerequests_is_capped_and_rate_limited():
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    # A bucket of 100 messages that refills too slowly to matter here; 30 per request at most.
    publisher = _served_publisher(sink, max_request=30, rerequest_rate=1e-6,
                                  rerequest_burst=100)
    try:
        for _ in range(10):
            sink.sendto(build_request("TEST", 1, 50), publisher.rerequest_address)
        for _ in range(10):  # bounded: one request per call at least
            publisher.serve_requests(timeout_ms=200)
            if publisher.stats.rerequests == 10:
                break
        stats = publisher.stats
        assert stats.rerequests == stats.capped_rerequests == 10
        assert stats.messages_resent == 100  # 30 + 30 + 30 + 10, then nothing
        assert stats.rate_limited_rerequests == 7
        assert stats.messages_rate_limited == 10 * 30 - 100
        assert _received_messages(sink) == 100
    finally:
        publisher.close()
        sink.close()


def test_live_command_rejects_a_bad_session_or_source(tmp_path, capsys):
    from tickaccel.cli import main

    for option in (["--session", "ELEVEN_CHARS"], ["--source", "127.0.0.1/40"]):
        code = main(["live", "--listen", "127.0.0.1:0", "-o", str(tmp_path), "--duration", "1",
                     "--no-log-json", *option])
        assert code == 2
        assert "error:" in capsys.readouterr().err
