"""`tickaccel.Book` and `book_at`: the fast book read by symbol between messages equals the oracle there."""
from __future__ import annotations

import pytest

import tickaccel
from feeds import binaryfile, faulty_capture, random_messages
from tickaccel.book.book import Book, Level, Quote, book_at
from tickaccel.book.oracle import OracleBook
from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.feed.binaryfile import record_offsets
from tickaccel.feed.chunk import FeedChunk
from tickaccel.feed.generator import generate
from tickaccel.feed.source import open_feed
from tickaccel.schema.units import PRICE_SCALE, format_time_of_day, time_of_day_ns


def oracle_after(feed, records: int) -> OracleBook:
    """The oracle after the first `records` records of `feed`, cut inside a chunk where needed."""
    oracle = OracleBook()
    left = records
    for chunk in open_feed(feed, errors=ErrorLog(), chunk_bytes=1 << 14):
        offsets = record_offsets(chunk.data)
        if left < len(offsets):
            end = int(offsets[left])
            chunk = FeedChunk(chunk.data[:end], chunk.first_seq,
                              None if chunk.seqs is None else chunk.seqs[:left], chunk.base_offset)
        oracle.process(chunk)
        left -= min(left, len(offsets))
        if not left:
            break
    return oracle


def assert_same_books(book: Book, oracle: OracleBook) -> None:
    names = {name: loc for loc, name in oracle.symbols.items()}
    assert book.symbols == sorted(names)
    assert book.messages == oracle.records
    for name, loc in names.items():
        for side in "BS":
            expected = [Level(p / PRICE_SCALE, s, n) for p, s, n in oracle.top(loc, side, 10_000)]
            assert book.levels(name, side, 10_000) == expected
        bid_price, ask_price, bid_size, ask_size = oracle.bbo(loc)
        assert book.bbo(name) == Quote(bid_price / PRICE_SCALE if bid_size else None, bid_size,
                                       ask_price / PRICE_SCALE if ask_size else None, ask_size)
        resting = [(ref, side, price, shares) for ref, (o_loc, side, price, shares)
                   in oracle.orders.items() if o_loc == loc]
        got = [(o.ref, o.side, round(o.price * PRICE_SCALE), o.shares) for o in book.orders(name)]
        assert sorted(got) == sorted(resting)
        # Best price first on each side, bids before asks, and at one price the order the
        # oracle holds them in (arrival), which the exchange's increasing references give.
        arrival = {ref: i for i, ref in enumerate(oracle.orders)}
        bids = [o for o in got if o[1] == "B"]
        asks = [o for o in got if o[1] == "S"]
        assert bids == sorted(bids, key=lambda o: (-o[2], arrival[o[0]]))
        assert asks == sorted(asks, key=lambda o: (o[2], arrival[o[0]]))
        assert got == bids + asks


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    path = tmp_path_factory.mktemp("book_api") / "feed.itch"
    path.write_bytes(generate(20_000, n_symbols=12, seed=5).tobytes())
    return path


@pytest.fixture(scope="module")
def faulty(tmp_path_factory, generated):
    """The generated feed as a capture with lost, duplicated and foreign packets."""
    path = tmp_path_factory.mktemp("book_api_pcap") / "feed.pcap"
    faulty_capture(path, generated.read_bytes(), seed=3)
    return path


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    """Random messages with book faults: unknown references, duplicates, overfills, bad lengths."""
    path = tmp_path_factory.mktemp("book_api_bad") / "feed.itch"
    path.write_bytes(binaryfile(random_messages(seed=11, n=3_000, n_symbols=4, faults=True)))
    return path


@pytest.mark.parametrize("which", ["generated", "faulty", "damaged"])
def test_book_between_messages_equals_the_oracle(which, request):
    feed = request.getfixturevalue(which)
    book = Book(feed, chunk_bytes=1 << 14)  # several chunks, so steps cross chunk ends
    applied = 0
    for step in (1, 136, 4_863, 1, 9_000):
        got = book.advance(step)
        applied += got
        assert_same_books(book, oracle_after(feed, applied))
    book.advance_all()
    assert book.ended
    assert_same_books(book, oracle_after(feed, book.messages))
    assert book.advance(5) == 0  # nothing after the end


def test_book_at_a_time_applies_every_message_up_to_it(generated):
    stamps = []
    for chunk in open_feed(generated, errors=ErrorLog()):
        offsets = record_offsets(chunk.data)
        stamps += [int.from_bytes(chunk.data[o + 7:o + 13].tobytes(), "big") for o in offsets]
    at = stamps[len(stamps) // 3]
    book = tickaccel.book_at(generated, format_time_of_day(at))
    applied = sum(1 for s in stamps if s <= at)  # the generated feed is in time order
    assert book.messages == applied and book.time == at
    assert_same_books(book, oracle_after(generated, applied))
    # Stepping on from there by time, then by count, matches the oracle too.
    later = stamps[applied + 100]
    book.advance_to(later)
    assert book.messages == sum(1 for s in stamps if s <= later)
    assert_same_books(book, oracle_after(generated, book.messages))


def test_queries_answer_in_dollars_and_refuse_what_the_feed_lacks(generated):
    book = book_at(generated, "16:00")
    name = book.symbols[0]
    quote = book.bbo(name)
    assert quote.bid_price is not None and quote.bid_price < quote.ask_price
    assert book.levels(name, "bid", 1)[0].price == quote.bid_price
    assert book.levels(name, "ask", 1)[0].price == quote.ask_price
    assert [o.side for o in book.orders(name, "S")] == ["S"] * len(book.orders(name, "S"))
    with pytest.raises(TickaccelError, match=f"no symbol 'AAPL'.*e.g. {book.symbols[0]}"):
        book.bbo("AAPL")
    with pytest.raises(TickaccelError, match="side"):
        book.levels(name, "up")
    with pytest.raises(TickaccelError, match="at least 1"):
        book.levels(name, "B", 0)
    empty = Book(generated)
    with pytest.raises(TickaccelError, match="no R message"):
        empty.bbo(name)


@pytest.mark.parametrize("text, ns", [
    ("10:30", 37_800 * 10**9), ("10:30:00", 37_800 * 10**9), ("09:30:00.000125", 34_200 * 10**9 + 125_000),
    ("0:00:00.000000001", 1), (12_345, 12_345),
])
def test_time_of_day(text, ns):
    assert time_of_day_ns(text) == ns
    assert time_of_day_ns(format_time_of_day(ns)) == ns


@pytest.mark.parametrize("text", ["10", "10:60", "10:30:61", "24:00", "-1:00", "10:30:00.1234567890",
                                  "10:3x", "", "10:30:00.", "10::00"])
def test_bad_times_are_refused(text):
    with pytest.raises(TickaccelError, match="time of day"):
        time_of_day_ns(text)


def test_book_command_prints_levels_and_orders(generated, capsys):
    from tickaccel.cli import main

    book = book_at(generated, "12:00")
    name = book.symbols[1]
    assert main(["book", str(generated), "--symbol", name, "--at", "12:00", "--levels", "2",
                 "--orders"]) == 0
    out = capsys.readouterr().out
    best_bid, best_ask = book.levels(name, "B", 1)[0], book.levels(name, "S", 1)[0]
    assert f"{best_bid.price:.4f}" in out and f"{best_ask.price:.4f}" in out
    first_order = next(o for o in book.orders(name) if o.price == best_bid.price)
    assert str(first_order.ref) in out
    assert main(["book", str(generated), "--symbol", "NOPE", "--at", "12:00"]) == 2
    assert "no symbol 'NOPE'" in capsys.readouterr().err
    assert main(["book", str(generated), "--symbol", name, "--at", "noon"]) == 2

