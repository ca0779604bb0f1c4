"""Damaged pcap and pcapng captures cost the damaged records only: the readers find the record
boundaries again, keep what a cut frame holds whole, take sequence numbers near 2**64 without
overflow, and no damage ends a replay with a traceback."""
from __future__ import annotations

import random
import struct

import numpy as np
import pytest
from feeds import mutate, replay_mutated
from tickaccel.cli import main

from tickaccel.book.fast import FastBook
from tickaccel.errors import ErrorLog
from tickaccel.feed.binaryfile import whole_records_end
from tickaccel.feed.capture import read_capture, udp_frame, write_pcap
from tickaccel.feed.chunk import FeedChunk
from tickaccel.feed.generator import generate
from tickaccel.feed.moldudp64 import HEADER, HEADER_LENGTH, MAX_SEQUENCE_JUMP, build_packets, end_of_session

START_NS = 1_704_205_800_000_000_000  # 2024-01-02 14:30 UTC
PCAP_FILE_HEADER = 24
PCAP_RECORD = struct.Struct("<IIII")  # dpkt writes little-endian
UDP_PAYLOAD_START = 14 + 20 + 8  # Ethernet, IPv4 and UDP headers of `udp_frame`
SEQ_AT = PCAP_RECORD.size + UDP_PAYLOAD_START + 10  # a frame's MoldUDP64 sequence, from its record
LOST_PACKET = 40


@pytest.fixture(scope="module")
def packets() -> list[bytes]:
    return build_packets(generate(3_000, n_symbols=10, seed=7), "DAMAGE")


@pytest.fixture(scope="module")
def clean(tmp_path_factory, packets) -> dict[str, bytes]:
    """The clean capture's bytes, as pcap and as pcapng."""
    frames = [udp_frame(p) for p in packets] + [udp_frame(end_of_session("DAMAGE", 3_001))]
    times = [START_NS + 1_000 * k for k in range(len(frames))]
    folder = tmp_path_factory.mktemp("clean")
    write_pcap(folder / "clean.pcap", frames, times)
    write_pcap(folder / "clean.pcapng", frames, times, pcapng=True)
    return {"pcap": (folder / "clean.pcap").read_bytes(), "pcapng": (folder / "clean.pcapng").read_bytes()}


def pcap_records(raw: bytes) -> list[tuple[int, int]]:
    """(offset, captured length) of every record of a clean pcap."""
    out, pos = [], PCAP_FILE_HEADER
    while pos < len(raw):
        caplen = PCAP_RECORD.unpack_from(raw, pos)[2]
        out.append((pos, caplen))
        pos += PCAP_RECORD.size + caplen
    return out


def pcapng_packet_blocks(raw: bytes) -> list[tuple[int, int]]:
    """(offset, total length) of every enhanced packet block of a clean pcapng."""
    out, pos = [], 0
    while pos < len(raw):
        block_type, length = struct.unpack_from("<II", raw, pos)
        if block_type == 6:
            out.append((pos, length))
        pos += length
    return out


def read(tmp_path, data: bytes, name: str) -> tuple[list[FeedChunk], ErrorLog]:
    path = tmp_path / name
    path.write_bytes(data)
    errors = ErrorLog()
    return list(read_capture(path, errors=errors, chunk_bytes=10_000)), errors


def messages(chunks: list[FeedChunk]) -> list[tuple[int, bytes]]:
    """(seq, record bytes) of every message delivered."""
    out = []
    for chunk in chunks:
        data = chunk.data.tobytes()
        pos = 0
        for seq in chunk.seqs.tolist():
            end = pos + 2 + int.from_bytes(data[pos:pos + 2], "big")
            out.append((seq, data[pos:end]))
            pos = end
    return out


def book_records(chunks: list[FeedChunk]) -> int:
    book = FastBook()
    for chunk in chunks:
        book.process(chunk)
    return book.records


def without_packets(packets: list[bytes], lost: set[int], kept_blocks: dict[int, int] | None = None
                    ) -> list[tuple[int, bytes]]:
    """(seq, record bytes) of every message but those of the `lost` packets; of a packet in
    `kept_blocks`, only its first so many messages."""
    kept_blocks = kept_blocks or {}
    out = []
    for index, packet in enumerate(packets):
        _, seq, count = HEADER.unpack_from(packet)
        if index in lost:
            count = kept_blocks.get(index, 0)
        pos = HEADER_LENGTH
        for k in range(count):
            end = pos + 2 + int.from_bytes(packet[pos:pos + 2], "big")
            out.append((seq + k, packet[pos:end]))
            pos = end
    return out


def packet_messages(packet: bytes) -> tuple[int, int]:
    return HEADER.unpack_from(packet)[1:]


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_the_clean_capture_delivers_every_message(tmp_path, clean, packets, kind):
    chunks, errors = read(tmp_path, clean[kind], f"clean.{kind}")
    assert errors.counts == {}
    assert messages(chunks) == without_packets(packets, set())
    assert book_records(chunks) == 3_000


def test_an_impossible_captured_length_in_record_zero_costs_that_record(tmp_path, clean, packets):
    raw = bytearray(clean["pcap"])
    offset, caplen = pcap_records(clean["pcap"])[0]
    struct.pack_into("<I", raw, offset + 8, 0xFFFF_FFFF)
    chunks, errors = read(tmp_path, bytes(raw), "caplen.pcap")
    first, count = packet_messages(packets[0])
    assert messages(chunks) == without_packets(packets, {0})
    assert book_records(chunks) == 3_000 - count
    assert errors.to_dict() == {
        "bytes_skipped": {"count": PCAP_RECORD.size + caplen, "first_position": offset},
        "sequence_gap": {"count": count, "first_position": first}}


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_bytes_inserted_between_records_are_skipped_and_nothing_else_is_lost(
        tmp_path, clean, packets, kind):
    raw = clean[kind]
    offsets = [o for o, _ in (pcap_records(raw) if kind == "pcap" else pcapng_packet_blocks(raw))]
    at = offsets[LOST_PACKET]
    chunks, errors = read(tmp_path, raw[:at] + b"garbage" + raw[at:], f"inserted.{kind}")
    assert messages(chunks) == without_packets(packets, set())
    assert errors.to_dict() == {"bytes_skipped": {"count": 7, "first_position": at}}


def test_a_pcapng_block_with_a_bad_length_costs_that_block(tmp_path, clean, packets):
    raw = bytearray(clean["pcapng"])
    offset, length = pcapng_packet_blocks(clean["pcapng"])[LOST_PACKET]
    struct.pack_into("<I", raw, offset + 4, length + 8)
    chunks, errors = read(tmp_path, bytes(raw), "badlength.pcapng")
    first, count = packet_messages(packets[LOST_PACKET])
    assert messages(chunks) == without_packets(packets, {LOST_PACKET})
    assert book_records(chunks) == 3_000 - count
    assert errors.to_dict() == {
        "bytes_skipped": {"count": length, "first_position": offset},
        "sequence_gap": {"count": count, "first_position": first}}


def test_a_damaged_pcapng_section_header_costs_that_block_only(tmp_path, clean, packets):
    raw = bytearray(clean["pcapng"])
    header_length = struct.unpack_from("<I", raw, 4)[0]
    raw[8:12] = b"\0\0\0\0"  # the byte-order magic
    chunks, errors = read(tmp_path, bytes(raw), "section.pcapng")
    assert messages(chunks) == without_packets(packets, set())
    assert errors.to_dict() == {"bytes_skipped": {"count": header_length, "first_position": 0}}


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_a_capture_cut_short_keeps_everything_before_the_cut(tmp_path, clean, packets, kind):
    raw = clean[kind]
    records = pcap_records(raw) if kind == "pcap" else pcapng_packet_blocks(raw)
    offset = records[LOST_PACKET][0]
    cut_in_header = offset + 10  # inside the record header, or the block's fixed fields
    chunks, errors = read(tmp_path, raw[:cut_in_header], f"cut.{kind}")
    assert messages(chunks) == without_packets(packets, set(range(LOST_PACKET, len(packets))))
    assert errors.to_dict() == {"truncated_record": {"count": 1, "first_position": offset}}


def test_a_pcap_record_cut_inside_its_frame_keeps_the_whole_messages_captured(tmp_path, clean, packets):
    raw = clean["pcap"]
    offset, caplen = pcap_records(raw)[LOST_PACKET]
    captured = caplen // 2
    chunks, errors = read(tmp_path, raw[:offset + PCAP_RECORD.size + captured], "cut_frame.pcap")
    body = np.frombuffer(packets[LOST_PACKET], np.uint8)[HEADER_LENGTH:captured - UDP_PAYLOAD_START]
    kept = whole_records_end(body, 1 << 16)[1]
    first, count = packet_messages(packets[LOST_PACKET])
    assert 0 < kept < count
    assert messages(chunks) == without_packets(
        packets, set(range(LOST_PACKET, len(packets))), {LOST_PACKET: kept})
    assert errors.to_dict() == {  # the packet's header says how many messages it had
        "truncated_record": {"count": 1, "first_position": offset},
        "truncated_message": {"count": 1, "first_position": first + kept},
        "sequence_gap": {"count": count - kept, "first_position": first + kept}}


def snapped(raw: bytes, cut: dict[int, int]) -> bytes:
    """The pcap `raw` with record k's frame captured to `cut[k]` bytes, its wire length kept."""
    parts = [raw[:PCAP_FILE_HEADER]]
    for index, (offset, caplen) in enumerate(pcap_records(raw)):
        seconds, fraction, _, wire_length = PCAP_RECORD.unpack_from(raw, offset)
        captured = cut.get(index, caplen)
        start = offset + PCAP_RECORD.size
        parts.append(PCAP_RECORD.pack(seconds, fraction, captured, wire_length) + raw[start:start + captured])
    return b"".join(parts)


def test_frames_cut_by_the_snap_length_keep_their_whole_messages(tmp_path, clean, packets):
    cut_in_payload, cut_in_header = LOST_PACKET, LOST_PACKET + 10
    captured = 700
    raw = snapped(clean["pcap"], {cut_in_payload: captured, cut_in_header: 30})
    chunks, errors = read(tmp_path, raw, "snapped.pcap")
    body = np.frombuffer(packets[cut_in_payload], np.uint8)[HEADER_LENGTH:captured - UDP_PAYLOAD_START]
    kept = whole_records_end(body, 1 << 16)[1]
    first, count = packet_messages(packets[cut_in_payload])
    header_first, header_count = packet_messages(packets[cut_in_header])
    assert 0 < kept < count
    assert messages(chunks) == without_packets(packets, {cut_in_payload, cut_in_header},
                                               {cut_in_payload: kept})
    assert book_records(chunks) == 3_000 - (count - kept) - header_count
    assert errors.to_dict() == {
        "truncated_message": {"count": 1, "first_position": first + kept},
        "truncated_frame": {"count": 1, "first_position": cut_in_header + 1},  # its frame number
        "sequence_gap": {"count": count - kept + header_count, "first_position": first + kept}}


@pytest.mark.parametrize("seq, kind", [(2**64 - 1, "bad_moldudp64"), (2**63, "bad_sequence")],
                         ids=["2**64-1", "2**63"])
def test_a_sequence_number_near_2_to_the_64_is_counted_not_raised(tmp_path, clean, packets, seq, kind):
    raw = bytearray(clean["pcap"])
    offset = pcap_records(clean["pcap"])[LOST_PACKET][0]
    struct.pack_into(">Q", raw, offset + SEQ_AT, seq)
    chunks, errors = read(tmp_path, bytes(raw), "seq.pcap")
    first, count = packet_messages(packets[LOST_PACKET])
    assert messages(chunks) == without_packets(packets, {LOST_PACKET})
    # A packet whose messages would pass 2**64 is malformed at its frame number; one far ahead
    # is a bad sequence at the sequence expected: never a gap of 2**63 messages.
    position = LOST_PACKET + 1 if kind == "bad_moldudp64" else first
    assert errors.to_dict() == {kind: {"count": 1, "first_position": position},
                                "sequence_gap": {"count": count, "first_position": first}}
    assert all(0 <= e["first_position"] < MAX_SEQUENCE_JUMP for e in errors.to_dict().values())


def test_a_capture_whose_file_header_is_cut_or_not_ethernet_is_refused_in_one_line(
        tmp_path, clean, capsys):
    short = tmp_path / "short.pcap"
    short.write_bytes(clean["pcap"][:20])
    other_link = tmp_path / "link.pcap"
    raw = bytearray(clean["pcap"])
    raw[20:24] = (113).to_bytes(4, "little" if raw[0] in (0xD4, 0x4D) else "big")  # Linux cooked capture
    other_link.write_bytes(bytes(raw))
    for path, reason in ((short, "no pcap or pcapng file header"), (other_link, "is not Ethernet")):
        assert main(["replay", str(path), "-o", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert reason in err and err.count("\n") == 1


# ---- mutation fuzzing through the command line ----

def test_mutated_captures_replay_and_never_end_in_a_traceback(tmp_path, clean, packets, capsys):
    fuzz_captures(tmp_path, clean, packets, capsys, seed=20240602, trials=300)


@pytest.mark.slow
def test_many_more_mutated_captures_replay_and_never_end_in_a_traceback(
        tmp_path, clean, packets, capsys):
    fuzz_captures(tmp_path, clean, packets, capsys, seed=20261203, trials=3000)


def fuzz_captures(tmp_path, clean, packets, capsys, seed: int, trials: int) -> None:
    """`trials` mutated pcap and pcapng copies through `tickaccel replay`: exit 0 with bounded
    loss, or exit 2 with one line; never a traceback."""
    rng = random.Random(seed)
    most_in_a_packet = max(packet_messages(p)[1] for p in packets)
    seen_codes = set()
    for trial in range(trials):
        kind = "pcapng" if trial % 2 else "pcap"
        mutated, places, removed = mutate(clean[kind], rng)
        code, summary = replay_mutated(tmp_path / f"fuzz.{kind}", mutated, capsys, trial)
        seen_codes.add(code)
        if summary is None:
            continue
        assert summary["messages"] <= 3_000 and "failed" not in summary
        assert all(e["first_position"] >= 0 for e in summary["errors"].values())
        # Each damaged place costs the packets it touches and a neighbour's, a cut what it cut.
        cut_off = removed * 3_000 // len(clean[kind]) + most_in_a_packet
        assert 3_000 - summary["messages"] <= 3 * places * most_in_a_packet + cut_off, \
            (trial, summary["errors"])
    assert 0 in seen_codes
