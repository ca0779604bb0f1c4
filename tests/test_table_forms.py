"""Analysis-ready tables (`--prices float`, `--date`, `--dictionary`), their metadata, and
`replay_tables`: the same rows as the books' own form, in memory or on disk."""
from __future__ import annotations

import datetime as dt
import hashlib
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tickaccel
from feeds import faulty_capture
from tickaccel.batch import replay
from tickaccel.cli import main
from tickaccel.errors import TickaccelError
from tickaccel.feed.generator import generate
from tickaccel.schema.analysis import EXCHANGE_TIMEZONE, TableForm, as_built
from tickaccel.schema.units import NS_PER_SECOND, PRICE_SCALE

TABLES = ("bbo", "depth", "trades")


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    path = tmp_path_factory.mktemp("forms") / "feed.itch"
    path.write_bytes(generate(30_000, n_symbols=15, seed=9).tobytes())
    return path


@pytest.fixture(scope="module")
def plain(feed, tmp_path_factory):
    """The books' own form, written by the cpu backend."""
    out = tmp_path_factory.mktemp("plain")
    replay(feed, out, depth=3, trades=True)
    return {name: pq.read_table(out / f"{name}.parquet") for name in TABLES}


def test_float_prices_date_and_dictionary_hold_the_same_rows(feed, plain, tmp_path):
    replay(feed, tmp_path, depth=3, trades=True, prices="float", date="2026-07-01", dictionary=True)
    for name in TABLES:
        table = pq.read_table(tmp_path / f"{name}.parquet")
        assert table.column_names[:3] == ["seq", "timestamp", "time"]
        assert table.schema.field("symbol").type == pa.dictionary(pa.int32(), pa.string())
        assert as_built(table).equals(plain[name])
        for column in (c for c in table.column_names if c == "price" or "_price" in c):
            ticks = plain[name].column(column).to_numpy()
            dollars = table.column(column)
            assert dollars.type == pa.float64()
            assert dollars.null_count == int((ticks == 0).sum())  # no price: null, never 0
            np.testing.assert_array_equal(dollars.to_numpy(zero_copy_only=False)[ticks != 0],
                                          ticks[ticks != 0] / PRICE_SCALE)
    # Wall-clock time in New York on that date: 1 July is daylight time, UTC-4.
    bbo = pq.read_table(tmp_path / "bbo.parquet")
    first = bbo.column("timestamp")[0].as_py()
    assert bbo.schema.field("time").type == pa.timestamp("ns", tz=EXCHANGE_TIMEZONE)
    utc_midnight_plus_4h = int(dt.datetime(2026, 7, 1, 4, tzinfo=dt.timezone.utc).timestamp()) * NS_PER_SECOND
    assert bbo.column("time")[0].value == utc_midnight_plus_4h + first


def test_the_time_column_follows_the_exchange_clock_in_winter():
    table = pa.table({"seq": pa.array([1], pa.uint64()), "timestamp": pa.array([34_200 * NS_PER_SECOND], pa.uint64())})
    timed = TableForm.make(date="2026-12-03").apply(table)
    opened = dt.datetime(2026, 12, 3, 14, 30, tzinfo=dt.timezone.utc)  # 09:30 EST is UTC-5
    assert timed.column("time")[0].value == int(opened.timestamp()) * NS_PER_SECOND


def test_every_table_says_what_it_holds_and_where_it_came_from(feed, tmp_path):
    replay(feed, tmp_path, depth=2, trades=True, prices="float", date="2026-12-03")
    expected_hash = hashlib.sha256(feed.read_bytes()).hexdigest()
    for name in TABLES:
        meta = pq.ParquetFile(tmp_path / f"{name}.parquet").metadata.metadata
        assert meta[b"tickaccel.source"].decode() == str(feed)
        assert meta[b"tickaccel.source_sha256"].decode() == expected_hash
        assert meta[b"tickaccel.version"].decode() == tickaccel.__version__
        assert meta[b"tickaccel.backend"] == b"cpu"
        assert meta[b"tickaccel.trading_date"] == b"2026-12-03"
        assert meta[b"tickaccel.prices"] == b"float"
        units = json.loads(meta[b"tickaccel.units"])
        assert "US dollars" in units["price"] and "2026-12-03" in units["time"]


def test_the_default_form_is_unchanged_and_still_carries_metadata(feed, plain, tmp_path):
    replay(feed, tmp_path)
    table = pq.read_table(tmp_path / "bbo.parquet")
    assert table.equals(plain["bbo"])
    assert table.schema.field("bid_price").type == pa.uint32()
    meta = pq.ParquetFile(tmp_path / "bbo.parquet").metadata.metadata
    assert meta[b"tickaccel.prices"] == b"int" and meta[b"tickaccel.trading_date"] == b""


def test_replay_tables_equals_the_written_tables(feed, plain):
    tables = tickaccel.replay_tables(feed, depth=3, trades=True)
    assert set(tables) == set(TABLES)
    for name in TABLES:
        assert tables[name].equals(plain[name])
    assert tables.errors.total() == 0
    assert tables.message_counts["A"] > 0


def test_replay_tables_counts_damaged_input_and_matches_the_cpu_backend(feed, tmp_path):
    pcap = tmp_path / "feed.pcap"
    faulty_capture(pcap, feed.read_bytes(), seed=4)
    tables = tickaccel.replay_tables(pcap, trades=True, printable_only=True, prices="float")
    summary = replay(pcap, tmp_path / "out", trades=True, printable_only=True, prices="float")
    assert tables.errors.to_dict() == summary["errors"] and summary["errors"]
    for name in ("bbo", "trades"):
        written = pq.read_table(tmp_path / "out" / f"{name}.parquet")
        assert tables[name].equals(written.replace_schema_metadata(None))


def test_replay_tables_as_pandas_and_polars(feed, plain):
    frames = tickaccel.replay_tables(feed, prices="float", date="2026-12-03", frames="pandas")
    bbo = frames["bbo"]
    assert len(bbo) == plain["bbo"].num_rows
    spread = bbo["ask_price"] - bbo["bid_price"]
    assert spread.dropna().ge(0).all() and spread.isna().sum() > 0  # one-sided rows: NaN, not 4e9
    assert str(bbo["time"].dt.tz) == EXCHANGE_TIMEZONE
    polars_bbo = tickaccel.replay_tables(feed, frames="polars")["bbo"]
    assert polars_bbo.height == plain["bbo"].num_rows


def test_signals_read_any_form(feed, tmp_path):
    for folder, options in (("int", []), ("float", ["--prices", "float", "--date", "2026-12-03",
                                                    "--dictionary"])):
        assert main(["replay", str(feed), "-o", str(tmp_path / folder), "--trades", "--signals",
                     *options]) == 0
    a = pq.read_table(tmp_path / "int" / "signals.parquet")
    b = pq.read_table(tmp_path / "float" / "signals.parquet")
    assert a.schema.equals(b.schema)
    for name in a.column_names:  # NaN where a signal is undefined: equal as arrays, not as Arrow
        np.testing.assert_array_equal(a.column(name).to_numpy(zero_copy_only=False),
                                      b.column(name).to_numpy(zero_copy_only=False), err_msg=name)


@pytest.mark.parametrize("options, message", [
    (["--prices", "dollars"], "unknown price form 'dollars'"),
    (["--date", "12/03/2026"], "YYYY-MM-DD"),
    (["--backend", "sim", "--prices", "float"], "drop --trades, --symbols, --engine, --prices"),
])
def test_bad_forms_are_refused_before_any_work(feed, tmp_path, capsys, options, message):
    assert main(["replay", str(feed), "-o", str(tmp_path / "out"), *options]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out" / "bbo.parquet").exists()


def test_replay_tables_refuses_bad_options(feed):
    with pytest.raises(TickaccelError, match="frames"):
        tickaccel.replay_tables(feed, frames="excel")
    with pytest.raises(TickaccelError, match="printable_only goes with trades"):
        tickaccel.replay_tables(feed, printable_only=True)
