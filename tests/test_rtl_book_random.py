"""Random book-event sequences: hand-built locked and crossed books, price and size extremes,
unknown, duplicate and over-filled references; the model keeps every invariant (hypothesis) and
the RTL book reproduces the model record for record."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tickaccel.sim import book_model, book_runner, runner
from tickaccel.hw.params import BookParams
from tickaccel.sim.book_model import BookModel

PRICES = (1, 2, 3, 100, 101, 102, 103, 104, 105, 0xFFFFFFFE, 0xFFFFFFFF)
SHARES = (0, 1, 2, 100, 5_000_000, 0xFFFFFFFF)
PARAMS = BookParams(max_symbols=64, order_bucket_bits=5, order_ways=2, levels=8, top_n=2)
# a level pool of 32 blocks of 2 levels, which these sequences run out of and get back
POOL = BookParams(max_symbols=64, order_bucket_bits=10, order_ways=4, levels=8, top_n=2,
                  block_levels=2, level_blocks=32)


event_args = st.tuples(st.sampled_from("AAAFEECXDUUR"), st.integers(0, 3), st.integers(1, 40),
                       st.sampled_from("BS"), st.sampled_from(SHARES), st.sampled_from(PRICES),
                       st.integers(1, 40))


def _words(args) -> list[int]:
    return [book_model.event_word(i + 1, kind, locate, ref, side, shares, price, new_ref)
            for i, (kind, locate, ref, side, shares, price, new_ref) in enumerate(args)]


@given(st.lists(event_args, max_size=200))
@settings(max_examples=150, deadline=None)
def test_any_event_sequence_keeps_every_book_invariant(args):
    for params in (BookParams(), PARAMS, BookParams(**{**POOL.__dict__, "level_blocks": 4})):
        model = BookModel(params)
        for word in _words(args):
            for out in model.apply(word):
                assert out >= 0
            model.check_invariants()
        for locate in range(4):
            bid, ask, bid_size, ask_size = model.bbo.get(locate, (0, 0, 0, 0))
            assert (bid == 0) == (bid_size == 0) and (ask == 0) == (ask_size == 0)
            levels = model.levels.get((locate, False), {})
            assert sorted(levels, reverse=True)[:1] == ([bid] if bid else [])


def random_words(seed: int, n: int) -> list[int]:
    """Dense books on few symbols: crossing prices, extremes, refs reused, U churn."""
    rng = random.Random(seed)
    return _words((rng.choice("AAAFEECXDUUR" if i % 50 else "R"), rng.randrange(6), rng.randrange(1, 300),
                   rng.choice("BS"), rng.choice(SHARES), rng.choice(PRICES), rng.randrange(1, 300))
                  for i in range(n))


@pytest.mark.skipif(not runner.available_simulators(), reason="no HDL simulator installed")
@pytest.mark.parametrize("params", [
    PARAMS,
    BookParams(max_symbols=64, order_bucket_bits=10, order_ways=4, levels=16, top_n=1),
    # top-N output on dense books: U that puts back the same price and shares changes nothing
    BookParams(max_symbols=64, order_bucket_bits=5, order_ways=2, levels=8, top_n=3, depth_out=2),
    # a small level pool: adds refused for want of a block, blocks freed and taken again
    POOL,
], ids=["overflowing", "top1", "depth", "pool"])
def test_rtl_book_follows_the_model_on_random_sequences(tmp_path, params):
    words = random_words(7, 3000)
    model = BookModel(params)
    model.run(words)
    assert model.counters["unknown_order_ref"] and model.counters["overfill"]
    assert model.counters["duplicate_order_ref"] and model.counters["zero_share_add"]
    if params is POOL:  # the pool runs out: 177 adds refused (the order store refuses none)
        assert model.counters["level_store_full"] > 100 and not model.counters["order_store_full"]
    stimulus = tmp_path / "stimulus.pkl"
    book_model.write_stimulus(stimulus, words, params)
    book_runner.run("order_book", "tb_book", params.verilog(), testcase="test_events_match_model",
                    env={"TB_STIMULUS": str(stimulus), "TB_BACKPRESSURE": "1", "TB_IDLE": "1"})


def hazard_pair_words() -> list[int]:
    """Every ordered pair of book event kinds back to back on one order of one symbol (A→E, E→D,
    U→X, D→E on the reference just deleted, U→U, ...), each pair on a book of two resting bids."""
    words, emit = book_model.event_sequence()

    for pair, (first, second) in enumerate((a, b) for a in "AFECXDU" for b in "AFECXDU"):
        locate, base = pair, 1000 * (pair + 1)  # a symbol per pair: its book starts empty
        emit("A", locate, base + 1, shares=300, price=100)
        emit("A", locate, base + 2, shares=200, price=101)
        target, fresh = base + 1, base + 10
        for step, kind in enumerate((first, second)):
            price = 102 + step  # a new best bid each time
            if kind in "AF":
                fresh += 1
                emit(kind, locate, fresh, shares=100 + step, price=price)
                target = fresh
            elif kind == "U":
                fresh += 1
                emit("U", locate, target, shares=150 + step, price=price, new_ref=fresh)
                target = fresh
            else:  # E/C/X reduce the order, D removes it (the next event then meets an unknown reference)
                emit(kind, locate, target, shares=40 + step)
    return words


@pytest.mark.skipif(not runner.available_simulators(), reason="no HDL simulator installed")
def test_back_to_back_event_pairs_on_one_symbol_follow_the_model(tmp_path):
    # no idle cycles on the input and no backpressure: each event arrives while the one before
    # it on the same symbol and order is being handled
    params = BookParams(max_symbols=64, order_bucket_bits=8, order_ways=4, levels=16, top_n=4, depth_out=2)
    words = hazard_pair_words()
    model = BookModel(params)
    model.run(words)
    assert model.counters["unknown_order_ref"] == 5  # the pairs D -> E/C/X/D/U
    stimulus = tmp_path / "stimulus.pkl"
    book_model.write_stimulus(stimulus, words, params)
    book_runner.run("order_book", "tb_book", params.verilog(), testcase="test_events_match_model",
                    env={"TB_STIMULUS": str(stimulus)})


def stale_word_words() -> list[int]:
    """Adds refused back to back on symbols of two stale words (32 symbols' flags each), then an
    event on each: every refusal's flag must survive the later writes of its word, whether the
    write before it was one event ahead (same word) or two (the event between in the other word)."""
    words, emit = book_model.event_sequence()

    symbols = (34, 2, 35, 3, 36, 4, 5, 6)  # words 1 and 0 in turn, then four of word 0
    for locate in symbols:  # two bid levels: the side is full at LEVELS = 2
        emit("A", locate, 100 * locate + 1, shares=300, price=100)
        emit("A", locate, 100 * locate + 2, shares=200, price=101)
    for locate in symbols:  # a third price on each: refused, the symbol made stale
        emit("A", locate, 100 * locate + 3, shares=100, price=102)
    for locate in symbols:  # the best bid changes: a record, which must carry the stale flag
        emit("E", locate, 100 * locate + 2, shares=50)
    return words


def quote_words() -> list[int]:
    """One symbol, asks and bids in turn (S, B, B, ...), each event two behind one on the other
    side, half of them improving their side and half not: a record must carry the other side as
    it stands, and an event that leaves its side's best as it is must send none."""
    words: list[int] = []
    for i in range(60):
        side = "SBB"[i % 3]
        improving = i % 2 == 0
        price = (300 - i if improving else 400 + i) if side == "S" else (100 + i if improving else 50 - i % 40)
        words.append(book_model.event_word(i + 1, "A", 7, i + 1, side=side, shares=100 + i, price=price))
    return words


@pytest.mark.skipif(not runner.available_simulators(), reason="no HDL simulator installed")
@pytest.mark.parametrize("case", ["stale_word", "quote"])
def test_back_to_back_writes_of_the_quote_and_stale_word_are_seen(tmp_path, case):
    # no idle cycles and no backpressure: each event reads its symbol's quote and stale word
    # while the events one and two ahead of it are still to write them
    params = BookParams(max_symbols=64, order_bucket_bits=8, order_ways=4, levels=2 if case == "stale_word" else 64,
                        top_n=1)
    words = stale_word_words() if case == "stale_word" else quote_words()
    model = BookModel(params)
    sent = model.run(words)
    if case == "stale_word":
        assert model.counters["level_store_full"] == 8 and model.counters["stale_raised"] == 8
    else:  # the events that leave their side's best as it is send no record
        assert not model.counters["stale_raised"] and 0 < len(sent) < len(words)
    stimulus = tmp_path / "stimulus.pkl"
    book_model.write_stimulus(stimulus, words, params)
    book_runner.run("order_book", "tb_book", params.verilog(), testcase="test_events_match_model",
                    env={"TB_STIMULUS": str(stimulus)})
