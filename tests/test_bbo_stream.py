"""BBO update records: the generated header is current, pack/unpack/bytes round trip, the decoder gives replay's table."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tickaccel.schema import bbo_records, book_csr, tables
from tickaccel.fpga import bbo_stream
from tickaccel.feed import generator
from tickaccel.feed.chunk import FeedChunk
from tickaccel.book.oracle import OracleBook
from tickaccel.hw.params import BookParams
from tickaccel.sim.book_model import BookModel, feed_events


def test_checked_in_headers_are_current():
    assert bbo_records.HEADER_PATH.read_text() == bbo_records.verilog_header()
    assert book_csr.HEADER_PATH.read_text() == book_csr.verilog_header()


def test_record_is_one_beat_as_wide_as_the_book_event():
    assert bbo_records.RECORD_WIDTH == 336
    lsb = 0
    for name, width, _ in bbo_records.BBO_FIELDS:
        assert bbo_records.FIELD_POSITIONS[name] == (lsb, width)
        lsb += width


fields = st.fixed_dictionaries({
    name: st.integers(0, (1 << width) - 1) for name, width, _ in bbo_records.BBO_FIELDS})


@given(st.lists(fields, min_size=1, max_size=20))
def test_pack_bytes_and_array_round_trip(rows):
    words = [bbo_records.pack(r) for r in rows]
    assert [bbo_records.unpack(w) for w in words] == rows
    data = b"".join(bbo_records.to_bytes(w) for w in words)
    assert [bbo_records.from_bytes(data[i:i + 42]) for i in range(0, len(data), 42)] == words
    array = bbo_records.to_array(data)
    for name in bbo_records.RECORD_DTYPE.names:
        assert array[name].tolist() == [r[name] for r in rows]


def test_pack_refuses_a_value_too_wide():
    with pytest.raises(ValueError):
        bbo_records.pack({"bid_price": 1 << 32})


def _stream(words):
    return b"".join(bbo_records.to_bytes(w) for w in words)


def test_decoded_model_stream_equals_the_oracle_table():
    feed = generator.generate(8000, 30, 4)
    oracle = OracleBook().process(FeedChunk(feed, 1, None, 0))["bbo"]
    decoded = bbo_stream.decode(_stream(BookModel().run(feed_events(feed.tobytes()))))
    assert decoded.stale == {}
    assert decoded.bbo.equals(oracle)


def test_stale_rows_are_reported_not_tabled():
    feed = generator.generate(8000, 30, 4)
    words = BookModel(BookParams(levels=2)).run(feed_events(feed.tobytes()))
    decoded = bbo_stream.decode(_stream(words))
    stale_words = [w for w in words if bbo_records.unpack(w)["flags"] & bbo_records.FLAG_STALE]
    assert stale_words and sum(s["rows"] for s in decoded.stale.values()) == len(stale_words)
    assert len(decoded.bbo) + len(stale_words) == sum(
        bbo_records.unpack(w)["kind"] == bbo_records.KIND_BBO for w in words)


def test_a_record_of_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown kind"):
        bbo_stream.decode(_stream([bbo_records.pack({"kind": ord("Z")})]))


def test_decoder_accepts_numpy_buffers():
    words = [bbo_records.pack({"kind": ord("B"), "seq": 5, "bid_price": 100, "bid_size": 7})]
    decoded = bbo_stream.decode(np.frombuffer(_stream(words), np.uint8))
    assert decoded.bbo.column("bid_size").to_pylist() == [7]
    assert decoded.bbo.column("symbol").to_pylist() == [""]


def _depth_stream(words, depth):
    return b"".join(bbo_records.to_bytes(w, depth) for w in words)


def test_depth_record_adds_levels_after_the_bbo_fields():
    width = bbo_records.RECORD_WIDTH
    assert bbo_records.record_width(3) == width + 3 * bbo_records.LEVEL_WIDTH
    assert bbo_records.positions(3)["price_1"] == (width, 32)
    assert bbo_records.positions(3)["orders_3"] == (width + 2 * 128 + 96, 32)
    word = bbo_records.pack({"kind": ord("B"), "price_2": 7, "size_2": 9}, 2)
    assert bbo_records.unpack(bbo_records.from_bytes(bbo_records.to_bytes(word, 2), 2), 2)["size_2"] == 9


def test_decoded_depth_stream_equals_the_oracle_depth_table():
    feed = generator.generate(4000, 30, 4)
    stream = _depth_stream(BookModel(BookParams(depth_out=5)).run(feed_events(feed.tobytes())), 5)
    for levels in (1, 3, 5):
        oracle = OracleBook(depth=levels).process(FeedChunk(feed, 1, None, 0))
        decoded = bbo_stream.decode(stream, depth=5, levels=levels)
        assert decoded.depth.num_rows > 100 and decoded.depth.equals(oracle["depth"])
        assert decoded.bbo.equals(oracle["bbo"])


def test_replace_with_same_price_and_shares_sends_no_depth_row():
    from tickaccel.schema import records

    def event(seq, kind, ref, shares, price, new_ref=0):
        return records.pack({"kind": ord(kind), "stock_locate": 1, "seq": seq, "order_ref": ref,
                             "new_order_ref": new_ref, "side": ord("B"), "shares": shares, "price": price})

    words = [event(1, "A", 10, 100, 500), event(2, "A", 11, 50, 400),
             event(3, "U", 10, 100, 500, new_ref=12),   # same price and shares: no change
             event(4, "U", 11, 60, 400, new_ref=13)]    # more shares at level 2: depth only
    out = [bbo_records.unpack(w, 2) for w in BookModel(BookParams(depth_out=2)).run(words)]
    assert [o["seq"] for o in out] == [1, 2, 4]
    assert out[1]["flags"] == bbo_records.FLAG_DEPTH | bbo_records.FLAG_DEPTH_ONLY
    assert (out[2]["price_2"], out[2]["size_2"], out[2]["orders_2"]) == (400, 60, 1)


def test_decoder_refuses_more_levels_than_the_stream_carries():
    with pytest.raises(ValueError, match="levels"):
        bbo_stream.decode(b"", depth=2, levels=3)


def _reference_decode(data, depth=0, levels=None):
    """The decoder's rules as a plain loop over the records: the tables the compiled pass must give."""
    levels = depth if levels is None else levels
    rec = bbo_records.to_array(data, depth)
    names, symbols, stale, sides = {}, [], {}, {}
    keep = np.zeros(len(rec), np.bool_)
    empty = [(0, 0, 0)] * levels
    depth_rows, depth_symbols, depth_values = [], [], []
    for i, r in enumerate(rec):
        locate, flags = int(r["stock_locate"]), int(r["flags"])
        if r["kind"] == bbo_records.KIND_SYMBOL:
            names[locate] = int(r["bid_size"]).to_bytes(8, "big").decode("latin-1").rstrip(" ")
            continue
        changed = False
        if levels and flags & bbo_records.FLAG_DEPTH:
            side = (locate, int(flags & bbo_records.FLAG_ASK != 0))
            carried = [tuple(int(r[f"{n}_{k}"]) for n, _, _ in bbo_records.LEVEL_FIELDS)
                       for k in range(1, levels + 1)]
            changed = sides.get(side, empty) != carried
            sides[side] = carried
        if flags & bbo_records.FLAG_STALE:
            stale.setdefault(locate, {"rows": 0, "first_seq": int(r["seq"])})["rows"] += 1
            continue
        if not flags & bbo_records.FLAG_DEPTH_ONLY:
            keep[i] = True
            symbols.append(names.get(locate, ""))
        if changed:
            depth_rows.append(i)
            depth_symbols.append(names.get(locate, ""))
            depth_values.append(sides.get((locate, 0), empty) + sides.get((locate, 1), empty))
    rows = rec[keep]
    bbo = tables.bbo_table(rows["seq"], rows["timestamp"], rows["stock_locate"], symbols,
                           rows["bid_price"], rows["ask_price"], rows["bid_size"], rows["ask_size"])
    if not levels:
        return bbo, stale, names, None
    at = np.array(depth_rows, np.int64)
    values = np.array(depth_values, np.uint64).reshape(len(at), 2 * levels, 3)
    return bbo, stale, names, tables.depth_table(rec["seq"][at], rec["timestamp"][at], rec["stock_locate"][at],
                                                 depth_symbols, values[:, :, 0], values[:, :, 1], values[:, :, 2])


def _random_stream(rng, count, depth):
    """Records over a few locates, so names change (R records), sides repeat or change their levels,
    and stale, depth-only and depth-carrying rows interleave."""
    rec = np.zeros(count, bbo_records.record_dtype(depth))
    rec["kind"] = np.where(rng.random(count) < 0.1, bbo_records.KIND_SYMBOL, bbo_records.KIND_BBO)
    rec["stock_locate"] = rng.choice([0, 1, 2, 7, 65535], count)
    rec["seq"] = np.arange(1, count + 1)
    rec["timestamp"] = rng.integers(0, 1 << 48, count, dtype=np.uint64)
    for name in ("bid_price", "ask_price"):
        rec[name] = rng.integers(0, 1 << 32, count, dtype=np.uint64)
    rec["ask_size"] = rng.integers(0, 1 << 63, count, dtype=np.uint64)
    names = np.array([int.from_bytes(n.ljust(8).encode(), "big") for n in ("AAPL", "MSFT", "ZVZZT", "A B")],
                     np.uint64)
    rec["bid_size"] = np.where(rec["kind"] == bbo_records.KIND_SYMBOL, rng.choice(names, count),
                               rng.integers(0, 1 << 40, count, dtype=np.uint64))
    flags = rng.choice([0, bbo_records.FLAG_STALE], count, p=[0.85, 0.15])
    if depth:
        flags |= rng.choice([0, bbo_records.FLAG_DEPTH], count) | rng.choice([0, bbo_records.FLAG_ASK], count)
        flags |= np.where(flags & bbo_records.FLAG_DEPTH, rng.choice([0, bbo_records.FLAG_DEPTH_ONLY], count), 0)
        for k in range(1, depth + 1):  # few values per level, so a side often carries what it had
            rec[f"price_{k}"] = rng.integers(0, 3, count)
            rec[f"size_{k}"] = rng.integers(0, 2, count) << 40
            rec[f"orders_{k}"] = rng.integers(0, 2, count)
    rec["flags"] = flags
    return bbo_records.layout(depth).from_array(rec)


@pytest.mark.parametrize("seed", range(12))
def test_compiled_decoder_equals_the_reference_loop_on_random_streams(seed):
    rng = np.random.default_rng(seed)
    depth = (0, 1, 3)[seed % 3]
    data = _random_stream(rng, int(rng.integers(200, 600)), depth)
    for levels in range(depth + 1):
        decoded = bbo_stream.decode(data, depth, levels)
        bbo, stale, names, depth_rows = _reference_decode(data, depth, levels)
        assert decoded.bbo.equals(bbo)
        assert list(decoded.stale.items()) == list(stale.items()) and stale
        assert list(decoded.names.items()) == list(names.items()) and names
        if levels:
            assert decoded.depth.equals(depth_rows) and depth_rows.num_rows > 0
        else:
            assert decoded.depth is None


def test_compiled_decoder_on_an_empty_stream():
    decoded = bbo_stream.decode(b"", depth=2)
    assert decoded.bbo.num_rows == 0 and decoded.depth.num_rows == 0
    assert decoded.stale == {} and decoded.names == {}
