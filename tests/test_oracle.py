"""One hand-made case per book rule, run on the oracle and on the fast book alike."""
from __future__ import annotations

import pytest

from feeds import binaryfile, chunk, record
from tickaccel.schema import itch
from tickaccel.book.fast import FastBook
from tickaccel.book.oracle import OracleBook

BOOKS = [OracleBook, FastBook]
R = itch.make("R", stock_locate=1, stock="AAPL")


def add(ref, side="B", shares=100, price=1000, mtype="A", locate=1, ts=10):
    return itch.make(mtype, stock_locate=locate, timestamp=ts, order_ref=ref, side=side,
                     shares=shares, stock="AAPL", price=price)


def run(book_cls, messages, **kwargs):
    book = book_cls(**kwargs)
    return book, book.process(chunk(binaryfile(messages)))


def bbo_rows(tables):
    return [(r["seq"], r["bid_price"], r["bid_size"], r["ask_price"], r["ask_size"])
            for r in tables["bbo"].to_pylist()]


@pytest.fixture(params=BOOKS, ids=["oracle", "fast"])
def book_cls(request):
    return request.param


def test_add_sets_bbo_and_symbol(book_cls):
    book, out = run(book_cls, [R, add(1, "B", 100, 1000), add(2, "S", 50, 1100, mtype="F")])
    assert bbo_rows(out) == [(2, 1000, 100, 0, 0), (3, 1000, 100, 1100, 50)]
    assert out["bbo"].column("symbol").to_pylist() == ["AAPL", "AAPL"]
    assert out["bbo"].column("timestamp").to_pylist() == [10, 10]
    assert book.top(1, "B", 5) == [(1000, 100, 1)]


def test_symbol_is_empty_before_any_directory_message(book_cls):
    _, out = run(book_cls, [add(1)])
    assert out["bbo"].column("symbol").to_pylist() == [""]


def test_orders_at_one_price_aggregate_into_one_level(book_cls):
    book, out = run(book_cls, [R, add(1, shares=100), add(2, shares=30), add(3, price=900)])
    assert book.top(1, "B", 5) == [(1000, 130, 2), (900, 100, 1)]
    assert bbo_rows(out) == [(2, 1000, 100, 0, 0), (3, 1000, 130, 0, 0)]


def test_add_behind_the_touch_changes_no_bbo(book_cls):
    _, out = run(book_cls, [R, add(1, price=1000), add(2, price=900)])
    assert [r[0] for r in bbo_rows(out)] == [2]


def test_execute_reduces_order_and_prints_at_order_price(book_cls):
    e = itch.make("E", stock_locate=1, timestamp=11, order_ref=1, executed_shares=40,
                  match_number=7)
    book, out = run(book_cls, [R, add(1, "S", 100, 1000), e], trades=True)
    assert book.top(1, "S", 1) == [(1000, 60, 1)]
    assert out["trades"].to_pylist() == [{
        "seq": 3, "timestamp": 11, "stock_locate": 1, "symbol": "AAPL", "type": "E",
        "side": "S", "price": 1000, "shares": 40, "match_number": 7, "printable": True,
        "order_ref": 1, "cross_type": " "}]


def test_execute_with_price_keeps_order_price(book_cls):
    c = itch.make("C", stock_locate=1, order_ref=1, executed_shares=40, match_number=8,
                  printable="Y", execution_price=990)
    book, out = run(book_cls, [R, add(1, "B", 100, 1000), c], trades=True)
    assert book.top(1, "B", 1) == [(1000, 60, 1)]
    row = out["trades"].to_pylist()[0]
    assert (row["type"], row["side"], row["price"], row["shares"]) == ("C", "B", 990, 40)


def test_cancel_reduces_shares(book_cls):
    x = itch.make("X", stock_locate=1, order_ref=1, cancelled_shares=30)
    book, out = run(book_cls, [R, add(1, shares=100), x])
    assert book.top(1, "B", 1) == [(1000, 70, 1)]
    assert bbo_rows(out)[-1] == (3, 1000, 70, 0, 0)


def test_cancel_of_zero_shares_changes_nothing(book_cls):
    x = itch.make("X", stock_locate=1, order_ref=1, cancelled_shares=0)
    _, out = run(book_cls, [R, add(1), x], depth=3)
    assert [r[0] for r in bbo_rows(out)] == [2]
    assert out["depth"].column("seq").to_pylist() == [2]


def test_delete_removes_order_and_empty_level(book_cls):
    d = itch.make("D", stock_locate=1, order_ref=1)
    book, out = run(book_cls, [R, add(1, price=1000), add(2, price=900), d])
    assert book.top(1, "B", 5) == [(900, 100, 1)]
    assert bbo_rows(out)[-1] == (4, 900, 100, 0, 0)


def test_order_reduced_to_zero_is_removed(book_cls):
    e = itch.make("E", stock_locate=1, order_ref=1, executed_shares=100)
    again = itch.make("X", stock_locate=1, order_ref=1, cancelled_shares=1)
    book, out = run(book_cls, [R, add(1, shares=100), e, again])
    assert book.top(1, "B", 5) == []
    assert bbo_rows(out)[-1] == (3, 0, 0, 0, 0)
    assert book.errors.to_dict() == {"unknown_order_ref": {"count": 1, "first_position":
                                                           len(binaryfile([R, add(1), e]))}}


def test_overfill_removes_order_and_is_counted(book_cls):
    x = itch.make("X", stock_locate=1, order_ref=1, cancelled_shares=500)
    book, _ = run(book_cls, [R, add(1, shares=100), add(2, shares=10), x])
    assert book.top(1, "B", 5) == [(1000, 10, 1)]
    assert book.errors.counts == {"overfill": 1}


def test_replace_moves_order_to_new_price(book_cls):
    u = itch.make("U", stock_locate=1, timestamp=12, original_order_ref=1, new_order_ref=9,
                  shares=70, price=1010)
    d = itch.make("D", stock_locate=1, order_ref=9)
    book, out = run(book_cls, [R, add(1, "S", 100, 1000), add(2, "S", 5, 1020), u], depth=2)
    assert book.top(1, "S", 5) == [(1010, 70, 1), (1020, 5, 1)]
    assert bbo_rows(out)[-1] == (4, 0, 0, 1010, 70)
    assert len(bbo_rows(out)) == 2  # one row for the replace, with its final state
    book.process(chunk(record(d), first_seq=5))
    assert book.top(1, "S", 5) == [(1020, 5, 1)]


def test_replace_to_same_price_and_shares_emits_no_row(book_cls):
    u = itch.make("U", stock_locate=1, original_order_ref=1, new_order_ref=2, shares=100,
                  price=1000)
    _, out = run(book_cls, [R, add(1), u], depth=2)
    assert [r[0] for r in bbo_rows(out)] == [2]
    assert out["depth"].column("seq").to_pylist() == [2]


def test_replace_keeps_side_and_locate_of_original(book_cls):
    u = itch.make("U", stock_locate=2, original_order_ref=1, new_order_ref=2, shares=10,
                  price=1000)
    book, out = run(book_cls, [R, add(1, "S", 100, 1100), u])
    assert book.top(1, "S", 5) == [(1000, 10, 1)]
    assert book.top(2, "S", 5) == book.top(2, "B", 5) == []
    assert out["bbo"].column("stock_locate").to_pylist() == [1, 1]


def test_unknown_reference_is_counted_not_applied(book_cls):
    msgs = [R, add(1),
            itch.make("E", stock_locate=1, order_ref=5, executed_shares=1),
            itch.make("C", stock_locate=1, order_ref=5, executed_shares=1),
            itch.make("X", stock_locate=1, order_ref=5, cancelled_shares=1),
            itch.make("D", stock_locate=1, order_ref=5),
            itch.make("U", stock_locate=1, original_order_ref=5, new_order_ref=6, shares=1)]
    book, out = run(book_cls, msgs, trades=True)
    assert book.errors.counts == {"unknown_order_ref": 5}
    assert book.errors.first["unknown_order_ref"] == len(binaryfile(msgs[:2]))
    assert book.top(1, "B", 5) == [(1000, 100, 1)]
    assert out["trades"].num_rows == 0


def test_duplicate_add_is_counted_and_ignored(book_cls):
    book, out = run(book_cls, [R, add(1, price=1000), add(1, price=1100)])
    assert book.top(1, "B", 5) == [(1000, 100, 1)]
    assert book.errors.counts == {"duplicate_order_ref": 1}


def test_replace_onto_live_reference_removes_original_only(book_cls):
    u = itch.make("U", stock_locate=1, original_order_ref=1, new_order_ref=2, shares=10,
                  price=1200)
    book, _ = run(book_cls, [R, add(1, price=1000), add(2, price=900), u])
    assert book.top(1, "B", 5) == [(900, 100, 1)]
    assert book.errors.counts == {"duplicate_order_ref": 1}


def test_zero_share_add_is_counted_and_ignored(book_cls):
    book, out = run(book_cls, [R, add(1, shares=0)])
    assert book.top(1, "B", 5) == []
    assert out["bbo"].num_rows == 0
    assert book.errors.counts == {"zero_share_add": 1}


def test_trade_messages_change_no_book(book_cls):
    p = itch.make("P", stock_locate=1, timestamp=3, order_ref=0, side="B", shares=10,
                  stock="AAPL", price=1234, match_number=5)
    q = itch.make("Q", stock_locate=1, timestamp=4, shares=1 << 40, stock="AAPL",
                  cross_price=1250, match_number=6, cross_type="O")
    b = itch.make("B", stock_locate=1, match_number=5)
    book, out = run(book_cls, [R, add(1), p, q, b], trades=True)
    assert book.top(1, "B", 5) == [(1000, 100, 1)]
    assert out["bbo"].num_rows == 1
    assert [(r["type"], r["side"], r["price"], r["shares"], r["match_number"])
            for r in out["trades"].to_pylist()] == [("P", "B", 1234, 10, 5),
                                                    ("Q", " ", 1250, 1 << 40, 6),
                                                    ("B", " ", 0, 0, 5)]
    assert book.message_counts == {"R": 1, "A": 1, "P": 1, "Q": 1, "B": 1}


def test_trade_rows_carry_printable_order_ref_and_cross_type(book_cls):
    c_printable = itch.make("C", stock_locate=1, order_ref=1, executed_shares=10,
                            match_number=8, printable="Y", execution_price=990)
    c_not_printable = itch.make("C", stock_locate=1, order_ref=1, executed_shares=10,
                                match_number=9, printable="N", execution_price=990)
    p = itch.make("P", stock_locate=1, order_ref=77, side="S", shares=5, stock="AAPL",
                  price=1000, match_number=10)
    q = itch.make("Q", stock_locate=1, shares=20, stock="AAPL", cross_price=1000,
                  match_number=11, cross_type="C")
    b = itch.make("B", stock_locate=1, timestamp=9, match_number=10)
    _, out = run(book_cls, [R, add(1, "B", 100, 1000), c_printable, c_not_printable, p, q, b],
                 trades=True)
    assert [(r["type"], r["printable"], r["order_ref"], r["cross_type"], r["match_number"])
            for r in out["trades"].to_pylist()] == [
        ("C", True, 1, " ", 8), ("C", False, 1, " ", 9), ("P", True, 77, " ", 10),
        ("Q", True, 0, "C", 11), ("B", False, 0, " ", 10)]
    assert out["trades"].column("timestamp").to_pylist()[-1] == 9


def test_broken_trade_row_follows_the_symbol_filter(book_cls):
    other = itch.make("R", stock_locate=2, stock="MSFT")
    b = [itch.make("B", stock_locate=loc, match_number=loc) for loc in (1, 2)]
    _, out = run(book_cls, [R, other, *b], trades=True, symbols=["MSFT"])
    assert out["trades"].column("match_number").to_pylist() == [2]


def test_depth_rows_list_top_levels_best_first(book_cls):
    msgs = [R, add(1, "B", 10, 1000), add(2, "B", 20, 990), add(3, "B", 30, 980),
            add(4, "S", 5, 1010), add(5, "B", 1, 970)]
    _, out = run(book_cls, msgs, depth=2)
    rows = out["depth"].to_pylist()
    assert [r["seq"] for r in rows] == [2, 3, 5]  # 980 and 970 are below the top two
    last = rows[-1]
    assert (last["bid_price_1"], last["bid_size_1"], last["bid_orders_1"]) == (1000, 10, 1)
    assert (last["bid_price_2"], last["bid_size_2"]) == (990, 20)
    assert (last["ask_price_1"], last["ask_size_1"], last["ask_price_2"]) == (1010, 5, 0)


def test_symbol_filter_limits_rows_not_books(book_cls):
    msgs = [R, itch.make("R", stock_locate=2, stock="MSFT"), add(1), add(2, locate=2)]
    book, out = run(book_cls, msgs, symbols=["MSFT"], trades=True)
    assert out["bbo"].column("symbol").to_pylist() == ["MSFT"]
    assert book.top(1, "B", 1) == [(1000, 100, 1)]


def test_malformed_records_are_counted_at_their_offsets(book_cls):
    good = record(add(1))
    bad = {
        "zero_length": b"\x00\x00",
        "bad_length": b"\x00\x33" + b"A" * 51,
        "unknown_type": b"\x00\x05z1234",
        "wrong_length": b"\x00\x05A1234",
    }
    data, offsets = record(R), {}
    for kind, raw in bad.items():
        offsets[kind] = len(data)
        data += raw
    data += good
    book = book_cls()
    out = book.process(chunk(data, base_offset=1000))
    assert book.errors.to_dict() == {
        kind: {"count": 1, "first_position": 1000 + off} for kind, off in offsets.items()}
    assert out["bbo"].column("seq").to_pylist() == [6]  # every record takes a sequence number
    assert book.top(1, "B", 1) == [(1000, 100, 1)]


def test_truncated_message_is_counted_and_ends_the_chunk(book_cls):
    data = record(R) + record(add(1))[:-3]
    book = book_cls()
    book.process(chunk(data))
    assert book.errors.to_dict() == {"truncated_message": {"count": 1,
                                                          "first_position": len(record(R))}}
    assert book.message_counts == {"R": 1}


def test_positions_are_sequence_numbers_when_chunk_has_seqs(book_cls):
    d = itch.make("D", stock_locate=1, order_ref=77)
    data = binaryfile([R, add(1), d]) + b"\x00\x00"
    book = book_cls()
    out = book.process(chunk(data, seqs=[500, 501, 503, 504]))
    assert out["bbo"].column("seq").to_pylist() == [501]
    assert book.errors.to_dict() == {"unknown_order_ref": {"count": 1, "first_position": 503},
                                     "zero_length": {"count": 1, "first_position": 504}}


def test_rename_applies_to_later_rows_only(book_cls):
    rename = itch.make("R", stock_locate=1, stock="AAPX")
    _, out = run(book_cls, [R, add(1, price=1000), rename, add(2, price=1100)])
    assert out["bbo"].column("symbol").to_pylist() == ["AAPL", "AAPX"]
