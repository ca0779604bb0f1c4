"""The fast book against the oracle (differential) and against the book invariants."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds import binaryfile, chunk, ops_to_messages, random_messages, split, trade_kinds_feed
from tickaccel.schema import itch
from tickaccel.book.fast import FastBook
from tickaccel.feed.generator import generate
from tickaccel.book.oracle import OracleBook
from tickaccel.schema.tables import (BBO_ROW, BBO_SCHEMA, DEPTH_LEVEL, DEPTH_ROW, TRADE_ROW,
                                     TRADES_SCHEMA, depth_schema)

OPS = st.lists(st.tuples(st.integers(0, 11), st.integers(0, 1 << 16), st.integers(0, 1 << 16),
                         st.integers(0, 1 << 16)), max_size=300)
# Tiny tables, so hash growth, segment moves, pool compaction and output flushes all happen.
TIGHT = {"output_rows": 7, "order_capacity": 2, "level_pool": 8}


def replay_all(book, chunks) -> dict[str, pa.Table]:
    parts: dict[str, list[pa.Table]] = {}
    for c in chunks:
        for name, table in book.process(c).items():
            parts.setdefault(name, []).append(table)
    return {name: pa.concat_tables(tables) for name, tables in parts.items()}


def assert_same(oracle, fast, chunks, fast_chunks=None):
    expected = replay_all(oracle, chunks)
    got = replay_all(fast, fast_chunks or chunks)
    assert expected.keys() == got.keys()
    for name in expected:
        assert got[name].equals(expected[name]), name
    assert fast.errors.to_dict() == oracle.errors.to_dict()
    assert fast.message_counts == oracle.message_counts
    assert fast.records == oracle.records


def assert_invariants(oracle: OracleBook, fast: FastBook) -> None:
    """Levels are the sums of their live orders, sorted, positive; BBO is the best level."""
    expected: dict[tuple[int, str], dict[int, list[int]]] = {}
    for locate, side, price, shares in oracle.orders.values():
        assert shares > 0
        level = expected.setdefault((locate, side), {}).setdefault(price, [0, 0])
        level[0] += shares
        level[1] += 1
    books = {key for key, levels in oracle.levels.items() if levels} | set(expected)
    assert fast.live_orders == len(oracle.orders)
    for locate, side in books:
        want = sorted(((p, s, n) for p, (s, n) in expected.get((locate, side), {}).items()),
                      reverse=(side == "B"))
        assert oracle.top(locate, side, 10**6) == want
        assert fast.top(locate, side, 10**6) == want
        assert all(s > 0 and n > 0 for _, s, n in want)
        bid, ask = fast.top(locate, "B", 1), fast.top(locate, "S", 1)
        assert oracle.bbo(locate) == ((bid or [(0, 0, 0)])[0][0], (ask or [(0, 0, 0)])[0][0],
                                      (bid or [(0, 0, 0)])[0][1], (ask or [(0, 0, 0)])[0][1])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS, st.booleans())
def test_fast_book_equals_oracle_on_random_feeds(ops, faults):
    data = binaryfile(ops_to_messages(ops, n_symbols=3, faults=faults))
    oracle, fast = OracleBook(depth=5, trades=True), FastBook(depth=5, trades=True, **TIGHT)
    assert_same(oracle, fast, [chunk(data)])
    assert_invariants(oracle, fast)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_any_valid_sequence_keeps_every_book_invariant(ops):
    data = binaryfile(ops_to_messages(ops, n_symbols=2))
    oracle, fast = OracleBook(), FastBook(**TIGHT)
    for c in split(data, 200):
        oracle.process(c)
        fast.process(c)
        assert_invariants(oracle, fast)
    assert oracle.errors.counts == {}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_book_equals_oracle_on_generated_feeds(seed):
    data = generate(30_000, n_symbols=20, seed=seed).tobytes()
    assert_same(OracleBook(depth=5, trades=True), FastBook(depth=5, trades=True, **TIGHT),
                [chunk(data)])


def test_fast_book_equals_oracle_on_non_printable_and_broken_trades(tmp_path):
    data = trade_kinds_feed(tmp_path / "f.itch", 4).read_bytes()
    oracle, fast = OracleBook(trades=True), FastBook(trades=True, **TIGHT)
    assert_same(oracle, fast, [chunk(data)])
    trades = FastBook(trades=True).process(chunk(data))["trades"]
    kinds = set(zip(trades.column("type").to_pylist(), trades.column("printable").to_pylist()))
    assert kinds == {("E", True), ("C", True), ("C", False), ("P", True), ("Q", True), ("B", False)}


@pytest.mark.parametrize("faults", ["zero_length=0.002,unknown_type=0.002,bad_length=0.002",
                                    "corrupt=0.01"])
def test_fast_book_equals_oracle_on_faulty_generated_feeds(tmp_path, faults):
    from tickaccel.feed.binaryfile import read_chunks
    from tickaccel.errors import ErrorLog
    from tickaccel.feed.generator import GeneratorConfig, write_feed

    path = tmp_path / "f.itch"
    write_feed(path, GeneratorConfig(n_messages=20_000, n_symbols=10, seed=5), faults=faults)
    chunks = list(read_chunks(path, 1 << 16, errors=ErrorLog()))
    oracle, fast = OracleBook(depth=5, trades=True), FastBook(depth=5, trades=True, **TIGHT)
    assert_same(oracle, fast, chunks)
    assert fast.errors.total() > 0


def test_symbol_filter_gives_the_same_rows_in_both_books():
    data = binaryfile(random_messages(4, 2_000, n_symbols=5))
    keep = ["MSFT", "QQQ"]
    assert_same(OracleBook(depth=3, trades=True, symbols=keep),
                FastBook(depth=3, trades=True, symbols=keep, **TIGHT), [chunk(data)])


@pytest.mark.parametrize("chunk_bytes", [64, 1000, 50_000])
def test_chunked_replay_equals_one_shot(chunk_bytes):
    data = binaryfile(random_messages(7, 3_000, n_symbols=4, faults=True))
    one = replay_all(FastBook(depth=5, trades=True), [chunk(data)])
    parts = replay_all(FastBook(depth=5, trades=True, **TIGHT), split(data, chunk_bytes))
    for name in one:
        assert parts[name].equals(one[name]), name


def test_pcap_feed_equals_binaryfile_feed(tmp_path):
    from tickaccel.errors import ErrorLog
    from tickaccel.feed.source import open_feed
    from tickaccel.feed.generator import GeneratorConfig, write_feed

    config = GeneratorConfig(n_messages=20_000, n_symbols=10, seed=9)
    out = {}
    for name in ("f.itch", "f.pcap"):
        write_feed(tmp_path / name, config)
        book = FastBook(depth=5, trades=True)
        out[name] = replay_all(book, open_feed(tmp_path / name, errors=ErrorLog()))
    for table in out["f.itch"]:
        assert out["f.pcap"][table].equals(out["f.itch"][table]), table


def test_order_table_grows_and_keeps_every_order():
    n = 5_000
    msgs = [itch.make("A", stock_locate=1, order_ref=10 * i + 1, side="B", shares=1,
                       price=1000 + i % 50) for i in range(n)]
    fast = FastBook(order_capacity=2, level_pool=8)
    fast.process(chunk(binaryfile(msgs)))
    assert fast.live_orders == n
    assert sum(n_orders for _, _, n_orders in fast.top(1, "B", 100)) == n
    msgs = [itch.make("D", stock_locate=1, order_ref=10 * i + 1) for i in range(0, n, 2)]
    fast.process(chunk(binaryfile(msgs), first_seq=n + 2))
    assert fast.live_orders == n // 2
    assert fast.errors.counts == {}



@pytest.mark.parametrize("chunk_bytes,tight", [(300, False), (300, True), (50_000, True)])
def test_process_columns_gives_the_columns_of_process(chunk_bytes, tight):
    data = binaryfile(random_messages(11, 3_000, n_symbols=4, faults=True))
    kwargs = TIGHT if tight else {}
    tables = replay_all(FastBook(depth=5, trades=True, **kwargs), split(data, chunk_bytes))
    book = FastBook(depth=5, trades=True, **kwargs)
    parts: dict[str, list[dict]] = {}
    for c in split(data, chunk_bytes):
        for name, cols in book.process_columns(c).items():
            # Copies: the arrays are only valid until the next call.
            parts.setdefault(name, []).append({col: a.copy() for col, a in cols.items()})
    assert parts.keys() == tables.keys()
    for name, table in tables.items():
        got = {col: np.concatenate([p[col] for p in parts[name]]) for col in parts[name][0]}
        if name == "depth":
            levels = got["price"].shape[1] // 2
            for i in range(levels):
                for s, col in (("bid", i), ("ask", levels + i)):
                    for field, key in (("price", "price"), ("size", "size"),
                                       ("orders", "orders")):
                        want = table.column(f"{s}_{field}_{i + 1}").to_numpy()
                        assert np.array_equal(got[key][:, col], want), (name, s, field, i)
            got = {col: a for col, a in got.items() if a.ndim == 1}
        elif name == "trades":
            for col in ("type", "side", "cross_type"):
                got[col] = np.array([chr(c) for c in got[col]], object)
        for col, values in got.items():
            want = table.column(col).to_numpy(zero_copy_only=False)
            assert values.dtype == want.dtype or col in ("type", "side", "cross_type"), (name, col)
            assert np.array_equal(values, want), (name, col)


def test_row_records_are_the_table_columns_less_the_symbol():
    """The fast book's row records carry their table's columns and types, each field aligned."""
    depth_1 = depth_schema(1)
    # Per record: (field name, the Arrow column it holds), in table order.
    cases = [(BBO_ROW, [(f.name, f) for f in BBO_SCHEMA]),
             (TRADE_ROW, [(f.name, f) for f in TRADES_SCHEMA]),
             (DEPTH_ROW, [(f.name, f) for f in depth_1][:4]),
             (DEPTH_LEVEL, [(name, depth_1.field(f"bid_{name}_1"))
                            for name in ("price", "size", "orders")])]
    for record, columns in cases:
        columns = [(name, f) for name, f in columns if name != "symbol"]
        assert record.names == tuple(name for name, _ in columns)
        for name, f in columns:
            dtype, offset = record.fields[name]
            assert offset % dtype.itemsize == 0, name
            if f.type == pa.string():  # trade type, side, cross type: one character, as its code
                assert dtype == np.uint8, name
            else:
                assert pa.from_numpy_dtype(dtype) == f.type, name


def test_depth_rows_fill_before_the_others_and_still_match_the_oracle(monkeypatch):
    # A budget of 16 rows at depth 2, so the depth table is handed out on its own, mid-chunk.
    monkeypatch.setattr("tickaccel.book.fast.DEPTH_CELL_BUDGET", 16 * 2 * 2)
    fast = FastBook(depth=2, trades=True)
    assert fast.depth_row_capacity == 16
    data = binaryfile(random_messages(3, 2_000, n_symbols=3))
    assert_same(OracleBook(depth=2, trades=True), fast, split(data, 1 << 12))


def test_depth_memory_is_bounded_by_the_cell_budget_not_by_depth():
    from tickaccel.book.fast import DEPTH_CELL_BUDGET, OUTPUT_ROWS
    from tickaccel.book.oracle import MAX_DEPTH

    assert FastBook(depth=5).depth_row_capacity == OUTPUT_ROWS  # up to 5 levels, as before
    deepest = FastBook(depth=MAX_DEPTH)
    assert 0 < deepest.depth_row_capacity * 2 * MAX_DEPTH <= DEPTH_CELL_BUDGET
    assert FastBook().depth_row_capacity == 0


@pytest.mark.parametrize("make_book", [FastBook, OracleBook])
@pytest.mark.parametrize("depth", [-1, 101, 100_000])
def test_a_depth_outside_0_to_max_depth_is_refused(make_book, depth):
    from tickaccel.errors import TickaccelError

    with pytest.raises(TickaccelError, match="--depth must be 0 to 100"):
        make_book(depth=depth)


def test_replay_cli_printable_only_writes_the_trades_that_count_in_volume(tmp_path, capsys):
    from tickaccel.cli import main
    from tickaccel.schema.tables import printable_trades

    feed = trade_kinds_feed(tmp_path / "f.itch", 6)
    assert main(["replay", str(feed), "-o", str(tmp_path / "all"), "--trades", "--json"]) == 0
    assert main(["replay", str(feed), "-o", str(tmp_path / "counted"), "--trades",
                 "--printable-only", "--json"]) == 0
    every = pq.read_table(tmp_path / "all" / "trades.parquet")
    counted = pq.read_table(tmp_path / "counted" / "trades.parquet")
    assert counted.equals(printable_trades(every))
    assert 0 < counted.num_rows < every.num_rows
    capsys.readouterr()
    assert main(["replay", str(feed), "-o", str(tmp_path / "none"), "--printable-only"]) == 2
    err = capsys.readouterr().err
    assert "--printable-only goes with --trades" in err and err.count("\n") == 1


def test_symbols_and_trade_codes_outside_ascii_match_the_oracle():
    """A damaged R or P message can carry any byte: both books decode it as Latin-1 text."""
    msgs = [itch.make("R", stock_locate=1, stock="\xc9CU"), itch.make("R", stock_locate=2, stock="AB CD"),
            itch.make("A", stock_locate=1, order_ref=1, side="B", shares=100, price=10_000),
            itch.make("A", stock_locate=2, order_ref=2, side="S", shares=50, price=20_000),
            itch.make("P", stock_locate=1, order_ref=3, side="\xe9", shares=5, price=10_100),
            itch.make("E", stock_locate=1, order_ref=1, executed_shares=10, match_number=7)]
    assert_same(OracleBook(depth=2, trades=True), FastBook(depth=2, trades=True, **TIGHT),
                [chunk(binaryfile(msgs))])
    trades = FastBook(trades=True).process(chunk(binaryfile(msgs)))["trades"]
    assert trades.column("symbol").to_pylist() == ["\xc9CU", "\xc9CU"]
    assert trades.column("side").to_pylist() == ["\xe9", "B"]
