"""MoldUDP64: packet round trips, garbage-proof parsing, re-requests and in-order delivery."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tickaccel.schema import itch
from tickaccel.feed.binaryfile import frame_messages
from tickaccel.errors import ErrorLog
from tickaccel.feed.moldudp64 import (
    HEADER_LENGTH,
    MAX_SEQUENCE_JUMP,
    SEQUENCE_LIMIT,
    SequenceTracker,
    build_packets,
    build_request,
    end_of_session,
    heartbeat,
    parse_packet,
    parse_request,
)

MESSAGES = st.lists(st.binary(min_size=1, max_size=60), min_size=1, max_size=120)


def _messages(n):
    return [itch.encode_message(itch.make("X", order_ref=i, cancelled_shares=i % 500)) for i in range(n)]


@settings(max_examples=100, deadline=None)
@given(MESSAGES, st.integers(1, 1 << 40), st.integers(HEADER_LENGTH + 62, 1500), st.none() | st.integers(1, 50))
def test_build_then_parse_gives_back_every_message_in_order(messages, first_seq, max_payload, max_messages):
    packets = build_packets(messages, "SESSION01", first_seq, max_payload, max_messages)
    seq, blocks = first_seq, b""
    for payload in packets:
        assert len(payload) <= max_payload
        packet = parse_packet(payload)
        assert packet.session == b"SESSION01 " and packet.seq == seq
        assert packet.n_blocks == packet.count and (max_messages is None or packet.count <= max_messages)
        seq += packet.count
        blocks += packet.blocks
    assert blocks == frame_messages(messages)
    assert build_packets(frame_messages(messages), "SESSION01", first_seq, max_payload, max_messages) == packets


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_parse_never_raises_on_garbage(payload):
    errors = ErrorLog()
    packet = parse_packet(payload, errors, position=9)
    if len(payload) < HEADER_LENGTH:
        assert packet is None and errors.counts == {"bad_moldudp64": 1} and errors.first["bad_moldudp64"] == 9
    elif packet.is_data:
        assert packet.n_blocks <= packet.count
        assert errors.counts.get("truncated_message", 0) == (packet.n_blocks < packet.count)


def test_overrunning_block_keeps_whole_blocks_before_it():
    payload = build_packets(_messages(5), "S", 100)[0]
    errors = ErrorLog()
    packet = parse_packet(payload[:-3], errors)
    assert packet.n_blocks == 4 and packet.blocks == frame_messages(_messages(4))
    assert errors.to_dict() == {"truncated_message": {"count": 1, "first_position": 104}}


def test_requests_heartbeats_and_end_of_session():
    request = build_request("ABC", 77, 12)
    assert len(request) == 20 and parse_request(request) == (b"ABC       ", 77, 12)
    assert parse_request(request + b"x") is None
    assert parse_packet(heartbeat("ABC", 5)).is_heartbeat
    assert parse_packet(end_of_session("ABC", 5)).is_end_of_session


def _deliver(tracker, packets):
    out = []
    for payload in packets:
        for first, count, blocks in tracker.push(parse_packet(payload)):
            out.append((first, count, blocks))
    out += tracker.finish()
    seqs = [s for first, count, _ in out for s in range(first, first + count)]
    return seqs, b"".join(b for _, _, b in out)


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(1, 8), st.floats(0, 0.5))
def test_any_shuffle_within_the_window_with_duplicates_is_delivered_once_in_order(rnd, group, dup_rate):
    messages = _messages(400)
    packets = build_packets(messages, "S", max_messages=7)
    arrivals = []
    for start in range(0, len(packets), group):  # shuffle within groups far smaller than the window
        block = packets[start:start + group]
        block += [p for p in block if rnd.random() < dup_rate]
        rnd.shuffle(block)
        arrivals += block
    errors = ErrorLog()
    seqs, blocks = _deliver(SequenceTracker(errors, window=64), arrivals)
    assert seqs == list(range(1, 401)) and blocks == frame_messages(messages)
    assert set(errors.counts) <= {"duplicate", "out_of_order"}
    assert errors.counts.get("duplicate", 0) == sum(parse_packet(p).count for p in arrivals) - 400


def test_dropped_packets_are_counted_as_a_gap_with_their_exact_range():
    packets = build_packets(_messages(100), "S", max_messages=10)
    errors = ErrorLog()
    seqs, _ = _deliver(SequenceTracker(errors, window=25), packets[:3] + packets[5:9])
    assert seqs == list(range(1, 31)) + list(range(51, 91))
    # The tail (91..100) is only known missing from the end-of-session packet.
    assert errors.to_dict() == {"sequence_gap": {"count": 20, "first_position": 31}}
    errors = ErrorLog()
    _deliver(SequenceTracker(errors), packets[:3] + packets[5:9] + [end_of_session("S", 101)])
    assert errors.to_dict() == {"sequence_gap": {"count": 30, "first_position": 31}}


def test_window_overflow_gives_up_the_gap_and_releases_in_order():
    packets = build_packets(_messages(100), "S", max_messages=10)
    errors = ErrorLog()
    tracker = SequenceTracker(errors, window=25)
    released = [tracker.push(parse_packet(p)) for p in packets[1:3]]
    assert released == [[], []] and tracker.missing("S") == [(1, 10)]
    runs = tracker.push(parse_packet(packets[3]))  # 30 held > 25: stop waiting for 1..10
    assert [(first, count) for first, count, _ in runs] == [(11, 30)]
    assert errors.to_dict() == {"sequence_gap": {"count": 10, "first_position": 1}}
    assert tracker.expected("S") == 41


def test_partially_overlapping_packets_deliver_each_message_once():
    messages = _messages(30)
    one = build_packets(messages[:20], "S", 1)[0]
    other = build_packets(messages[10:30], "S", 11)[0]
    hole = build_packets(messages[:5], "S", 1)[0]
    errors = ErrorLog()
    seqs, blocks = _deliver(SequenceTracker(errors), [other, hole, one])
    assert seqs == list(range(1, 31)) and blocks == frame_messages(messages)
    assert errors.counts == {"duplicate": 15, "out_of_order": 10}


def test_live_receiver_sees_missing_ranges_to_request():
    packets = build_packets(_messages(40), "LIVE", max_messages=10)
    tracker = SequenceTracker(ErrorLog())
    tracker.push(parse_packet(packets[0]))
    tracker.push(parse_packet(packets[2]))
    tracker.push(parse_packet(heartbeat("LIVE", 41)))
    assert tracker.missing("LIVE") == [(11, 10), (31, 10)]
    runs = tracker.push(parse_packet(packets[1]))
    assert [(first, count) for first, count, _ in runs] == [(11, 20)]
    assert tracker.missing("LIVE") == [(31, 10)]


def test_the_last_64_bit_sequence_number_is_a_message_and_one_past_it_is_malformed():
    last = SEQUENCE_LIMIT - 1
    errors = ErrorLog()
    packet = parse_packet(build_packets(_messages(1), "S", first_seq=last)[0], errors, position=3)
    assert packet.seq == last and packet.n_blocks == 1 and errors.total() == 0
    tracker = SequenceTracker(errors, first_seq=None)  # a session taken up where it stands
    assert [(first, count) for first, count, _ in tracker.push(packet)] == [(last, 1)]
    assert tracker.finish() == [] and errors.total() == 0
    assert parse_packet(build_packets(_messages(2), "S", first_seq=last)[0], errors, position=3) is None
    assert errors.to_dict() == {"bad_moldudp64": {"count": 1, "first_position": 3}}


def test_a_sequence_number_far_ahead_is_a_bad_sequence_not_a_gap():
    packets = build_packets(_messages(30), "S", max_messages=10)
    far = build_packets(_messages(10), "S", first_seq=11 + MAX_SEQUENCE_JUMP + 1)[0]
    errors = ErrorLog()
    seqs, _ = _deliver(SequenceTracker(errors), [packets[0], far, heartbeat("S", 1 << 63)] + packets[1:])
    assert seqs == list(range(1, 31))
    assert errors.to_dict() == {"bad_sequence": {"count": 2, "first_position": 11}}
    # At the limit it is still a gap: the reorder window gives it up, counted exactly.
    errors = ErrorLog()
    near = build_packets(_messages(10), "S", first_seq=11 + MAX_SEQUENCE_JUMP)[0]
    _deliver(SequenceTracker(errors, window=5), [packets[0], near])
    assert errors.to_dict() == {"sequence_gap": {"count": MAX_SEQUENCE_JUMP, "first_position": 11}}
