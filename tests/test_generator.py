"""Feed generator: deterministic, well-formed, and realistic enough to build sane books."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tickaccel.schema import itch
from tickaccel.feed.binaryfile import read_chunks, record_offsets
from tickaccel.cli import main
from tickaccel.errors import ErrorLog
from tickaccel.feed.generator import GeneratorConfig, generate, min_messages, write_feed


def _decoded(framed):
    data = framed.tobytes()
    for offset in record_offsets(framed).tolist():
        length = int.from_bytes(data[offset:offset + 2], "big")
        yield data[offset + 2:offset + 2 + length]


@pytest.fixture(scope="module")
def feed():
    return generate(60_000, n_symbols=80, seed=3)


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(feed):
    assert np.array_equal(generate(60_000, n_symbols=80, seed=3), feed)
    assert not np.array_equal(generate(60_000, n_symbols=80, seed=4), feed)


def test_fast_writer_agrees_with_encode_message(feed):
    count = 0
    for wire in _decoded(feed):
        assert itch.encode_message(itch.decode_message(wire)) == wire
        count += 1
    assert count == 60_000


def test_session_structure_directory_and_timestamps(feed):
    messages = [itch.decode_message(w) for w in _decoded(feed)]
    events = [m.event_code for m in messages if m.type == "S"]
    assert events == ["O", "S", "Q", "M", "E", "C"]
    assert messages[0].event_code == "O" and messages[-1].event_code == "C"
    directory = [m for m in messages if m.type == "R"]
    assert [m.stock_locate for m in directory] == list(range(1, 81))
    tickers = [m.stock for m in directory]
    assert len(set(tickers)) == 80 and all(1 <= len(t) <= 8 and t.isupper() for t in tickers)
    stamps = [m.timestamp for m in messages]
    assert all(a <= b for a, b in zip(stamps, stamps[1:]))
    refs = [m.order_ref if m.type in "AF" else m.new_order_ref for m in messages if m.type in "AFU"]
    assert all(a < b for a, b in zip(refs, refs[1:]))


def test_every_change_references_a_live_order_and_no_book_ever_crosses(feed):
    orders: dict[int, list] = {}
    levels: dict[tuple[int, str], dict[int, int]] = {}

    def change(ref, shares):
        locate, side, price, left = orders[ref]
        assert 0 < shares <= left, (ref, shares, left)
        book = levels[locate, side]
        book[price] -= shares
        if not book[price]:
            del book[price]
        if shares == left:
            del orders[ref]
        else:
            orders[ref][3] -= shares

    def add(ref, locate, side, price, shares):
        assert ref not in orders and shares > 0 and price > 0
        orders[ref] = [locate, side, price, shares]
        book = levels.setdefault((locate, side), {})
        book[price] = book.get(price, 0) + shares

    for wire in _decoded(feed):
        m = itch.decode_message(wire)
        if m.type in "AF":
            add(m.order_ref, m.stock_locate, m.side, m.price, m.shares)
        elif m.type in "EC":
            change(m.order_ref, m.executed_shares)
        elif m.type == "X":
            assert m.cancelled_shares < orders[m.order_ref][3]
            change(m.order_ref, m.cancelled_shares)
        elif m.type == "D":
            change(m.order_ref, orders[m.order_ref][3])
        elif m.type == "U":
            locate, side, _, left = orders[m.original_order_ref]
            change(m.original_order_ref, left)
            add(m.new_order_ref, locate, side, m.price, m.shares)
        else:
            continue
        bids, asks = levels.get((m.stock_locate, "B")), levels.get((m.stock_locate, "S"))
        if bids and asks:
            assert max(bids) < min(asks), m
    # Both sides are populated for most symbols at the end of the day.
    two_sided = sum(1 for s in range(1, 81) if levels.get((s, "B")) and levels.get((s, "S")))
    assert two_sided > 40


def test_activity_is_skewed_and_prices_and_sizes_span_extremes(feed):
    adds = itch.decode_batch(itch.Framed(feed, record_offsets(feed) + 2,
                                         np.arange(60_000, dtype=np.uint64)), types="A")["A"]
    per_symbol = np.sort(np.bincount(adds["stock_locate"], minlength=81)[1:])[::-1]
    assert per_symbol[:8].sum() > 0.5 * per_symbol.sum()  # a few symbols carry most of the flow
    assert (per_symbol > 0).sum() > 40  # and a long tail still trades
    assert adds["price"].min() < 10_000 and adds["price"].max() > 10_000_000  # under $1, over $1000
    assert (adds["shares"] % 100 == 0).mean() > 0.6  # round lots dominate
    assert (adds["shares"] == 1).any() and (adds["shares"] < 100).any()
    ticks = adds["price"][adds["price"] >= 10_000]
    assert np.all(ticks % 100 == 0)  # penny grid from $1 up


def test_every_message_type_appears_in_a_large_feed():
    framed = generate(200_000, n_symbols=500, seed=1)
    present = {chr(t) for t in np.unique(framed[record_offsets(framed) + 2])}
    assert present == set(itch.MESSAGES)


def test_too_few_messages_for_the_symbols_is_refused():
    with pytest.raises(ValueError, match="need at least"):
        generate(min_messages(100) - 1, n_symbols=100)
    assert len(record_offsets(generate(min_messages(100), n_symbols=100))) == min_messages(100)


@pytest.mark.parametrize("suffix", [".itch", ".itch.gz"])
def test_binaryfile_faults_match_the_sidecar(tmp_path, suffix):
    path = tmp_path / f"faulty{suffix}"
    write_feed(path, GeneratorConfig(n_messages=20_000, n_symbols=50, seed=2),
               faults="zero_length=0.001,unknown_type=0.001,bad_length=0.001,truncate=1")
    sidecar = json.loads((tmp_path / f"faulty{suffix}.faults.json").read_text())
    assert {f["kind"] for f in sidecar["faults"]} == {"zero_length", "unknown_type", "bad_length", "truncate"}
    errors = ErrorLog()
    chunks = list(read_chunks(path, 4096, errors=errors))
    assert errors.counts == sidecar["expected_errors"] == {"truncated_message": 1}
    truncate = next(f for f in sidecar["faults"] if f["kind"] == "truncate")
    assert errors.first["truncated_message"] == truncate["offset"]
    records = {}
    for chunk in chunks:
        data = chunk.data.tobytes()
        for k, offset in enumerate(record_offsets(chunk.data).tolist()):
            records[chunk.first_seq + k] = (chunk.base_offset + offset, data[offset + 2:offset + 2 + int.from_bytes(
                data[offset:offset + 2], "big")])
    assert len(records) == truncate["seq"] - 1
    for fault in sidecar["faults"]:
        if fault["kind"] == "truncate":
            continue
        offset, body = records[fault["seq"]]
        assert offset == fault["offset"]
        if fault["kind"] == "zero_length":
            assert body == b""
        elif fault["kind"] == "unknown_type":
            assert itch.LENGTH_BY_TYPE[body[0]] == 0
        else:
            assert itch.LENGTH_BY_TYPE[body[0]] not in (0, len(body))


def test_cli_writes_a_pcap_and_says_what_it_wrote(tmp_path, capsys):
    out = tmp_path / "cli.pcap"
    assert main(["generate", str(out), "--messages", "3000", "--symbols", "20", "--seed", "5",
                 "--faults", "drop=0.05", "--packet-messages", "10"]) == 0
    assert out.exists() and (tmp_path / "cli.pcap.faults.json").exists()
    assert "3,000 messages" in capsys.readouterr().out
    assert main(["generate", str(tmp_path / "x.itch"), "--messages", "10"]) == 2
    assert "need at least" in capsys.readouterr().err
