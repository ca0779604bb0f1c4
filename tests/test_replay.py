"""`replay`: feed file to Parquet tables and summary.json, with both engines; options a backend cannot take."""
from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

import tickaccel
from feeds import binaryfile, random_messages, record
from tickaccel.schema import itch
from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.feed.generator import GeneratorConfig, write_feed
from tickaccel.batch import replay
from tickaccel.batch.cpu import make_book, replay_cpu
from tickaccel.batch.summary import ReplayFailed
from tickaccel.feed.source import open_feed
from tickaccel.schema.analysis import TableForm, file_sha256, table_metadata
from tickaccel.schema.tables import BBO_SCHEMA, TRADES_SCHEMA, depth_schema


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    path = tmp_path_factory.mktemp("feed") / "day.itch"
    path.write_bytes(binaryfile(random_messages(21, 3_000, n_symbols=4, faults=True)))
    return path


def test_replay_writes_tables_and_summary(feed, tmp_path):
    summary = replay_cpu(feed, tmp_path, depth=3, trades=True, chunk_bytes=4096)
    assert pq.read_schema(tmp_path / "bbo.parquet") == BBO_SCHEMA
    assert pq.read_schema(tmp_path / "depth.parquet") == depth_schema(3)
    assert pq.read_schema(tmp_path / "trades.parquet") == TRADES_SCHEMA
    for name, n in summary["rows"].items():
        assert pq.read_metadata(tmp_path / f"{name}.parquet").num_rows == n > 0
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    assert summary["format"] == "binaryfile"
    assert summary["messages"] == sum(summary["message_counts"].values()) == summary["records"]
    assert {"unknown_order_ref", "overfill", "duplicate_order_ref"} <= set(summary["errors"])
    assert summary["messages_per_s"] > 0


def test_engines_write_identical_tables(feed, tmp_path):
    fast = replay_cpu(feed, tmp_path / "fast", depth=5, trades=True, chunk_bytes=2048)
    oracle = replay(feed, tmp_path / "oracle", depth=5, trades=True, engine="oracle")
    for name in ("bbo", "depth", "trades"):
        assert pq.read_table(tmp_path / "fast" / f"{name}.parquet").equals(
            pq.read_table(tmp_path / "oracle" / f"{name}.parquet")), name
    assert fast["errors"] == oracle["errors"]
    assert fast["message_counts"] == oracle["message_counts"]


def test_symbols_filter_output_rows(feed, tmp_path):
    replay(feed, tmp_path, symbols=["SPY"], trades=True)
    for name in ("bbo", "trades"):
        assert set(pq.read_table(tmp_path / f"{name}.parquet").column("symbol").to_pylist()) == {"SPY"}


def test_bad_records_are_counted_and_neighbours_kept(tmp_path):
    # Enough good records ahead of the bad ones for the file to be recognised as a feed.
    r = b"".join(record(itch.make("R", stock_locate=i, stock="AAPL")) for i in range(1, 9))
    a1 = itch.make("A", stock_locate=1, order_ref=1, side="B", shares=10, price=100)
    a2 = itch.make("A", stock_locate=1, order_ref=2, side="S", shares=10, price=200)
    data = r + record(a1) + b"\x00\x00" + b"\x00\x05z1234" + record(a2)
    path = tmp_path / "bad.itch"
    path.write_bytes(data)
    summary = replay(path, tmp_path / "out")
    assert summary["errors"] == {
        "zero_length": {"count": 1, "first_position": len(r + record(a1))},
        "unknown_type": {"count": 1, "first_position": len(r + record(a1)) + 2}}
    bbo = pq.read_table(tmp_path / "out" / "bbo.parquet").to_pylist()
    assert [row["seq"] for row in bbo] == [9, 12]


def test_truncated_file_keeps_everything_before_the_cut(tmp_path):
    path = tmp_path / "cut.itch"
    data = binaryfile(random_messages(5, 500, n_symbols=2))
    path.write_bytes(data[:-5])
    whole = replay(_write(tmp_path / "whole.itch", data), tmp_path / "whole")
    cut = replay(path, tmp_path / "cut")
    assert cut["errors"]["truncated_message"]["count"] == 1
    assert cut["records"] == whole["records"] - 1
    assert cut["rows"]["bbo"] >= whole["rows"]["bbo"] - 1


def _write(path, data):
    path.write_bytes(data)
    return path


def test_generated_pcap_and_binaryfile_give_the_same_tables(tmp_path):
    config = GeneratorConfig(n_messages=20_000, n_symbols=8, seed=3)
    for name in ("g.itch.gz", "g.pcap"):
        write_feed(tmp_path / name, config)
        replay(tmp_path / name, tmp_path / name.replace(".", "_"), depth=2, trades=True)
    for table in ("bbo", "depth", "trades"):
        assert pq.read_table(tmp_path / "g_itch_gz" / f"{table}.parquet").equals(
            pq.read_table(tmp_path / "g_pcap" / f"{table}.parquet")), table


@pytest.mark.parametrize("fmt", ["binaryfile", "gz", "pcap", "pcapng"])
def test_progress_reports_bytes_of_the_file_up_to_its_size(fmt, tmp_path):
    # gzip: compressed bytes read, so the bar has a real total; captures: file offsets.
    path = tmp_path / {"binaryfile": "f.itch", "gz": "f.itch.gz", "pcap": "f.pcap", "pcapng": "f.pcapng"}[fmt]
    write_feed(path, GeneratorConfig(n_messages=60_000, n_symbols=20, seed=3))
    seen = []
    replay_cpu(path, tmp_path / "out", progress=lambda done, total: seen.append((done, total)),
               chunk_bytes=1 << 16)
    size = path.stat().st_size
    assert len(seen) > 2 and all(total == size for _, total in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1] == (size, size)


def test_missing_file_is_a_tickaccel_error(tmp_path):
    with pytest.raises(TickaccelError):
        replay(tmp_path / "nope.itch", tmp_path / "out")


def test_unknown_engine_is_a_tickaccel_error(feed, tmp_path):
    with pytest.raises(TickaccelError, match="engine"):
        replay(feed, tmp_path, engine="gpu")


@pytest.mark.parametrize("backend, options, message", [
    ("sim", {"trades": True}, "--backend sim writes the whole bbo.parquet"),
    ("fpga", {"depth": 2}, "--backend fpga writes the whole bbo.parquet only"),
    ("cluster", {"engine": "oracle"}, "--cluster runs the fast cpu book"),
    ("sim", {"cluster": "local"}, "--cluster runs the fast cpu book"),
    ("cpu", {"simulator": "icarus"}, "--simulator goes with --backend sim"),
    ("cpu", {"workers": 2}, "--workers goes with --cluster"),
    ("sim", {"compression": "lz4"}, "--compression goes with --backend cpu"),
    ("cpu", {"compression": "brotli"}, "unknown compression 'brotli'"),
    ("cluster", {"compression": "gzip"}, "unknown compression 'gzip'"),
    ("nope", {}, "unknown backend 'nope'"),
])
def test_an_option_the_backend_does_not_take_is_refused_before_it_starts(feed, tmp_path, backend, options,
                                                                          message):
    with pytest.raises(TickaccelError, match=message):
        replay(feed, tmp_path, backend=backend, **options)
    assert not (tmp_path / "bbo.parquet").exists()


@pytest.mark.parametrize("compression", ["lz4", "none"])
def test_every_compression_writes_the_tables_zstd_writes(feed, tmp_path, compression):
    replay(feed, tmp_path / "zstd", depth=2, trades=True)
    replay(feed, tmp_path / compression, depth=2, trades=True, compression=compression)
    codec = {"lz4": "LZ4", "none": "UNCOMPRESSED"}[compression]
    for name in ("bbo", "depth", "trades"):
        written = tmp_path / compression / f"{name}.parquet"
        assert pq.ParquetFile(written).metadata.row_group(0).column(0).compression == codec
        assert pq.read_table(written).equals(pq.read_table(tmp_path / "zstd" / f"{name}.parquet")), name


def test_default_output_is_the_book_tables_written_in_order_with_zstd(feed, tmp_path):
    # What the replay wrote before it had a writer thread, byte for byte, with the metadata
    # every table now carries.
    metadata = table_metadata(TableForm(), source=feed, source_sha256=file_sha256(feed),
                              backend="cpu", version=tickaccel.__version__)
    book = make_book("fast", depth=2, trades=True)
    schemas = {"bbo": BBO_SCHEMA, "depth": depth_schema(2), "trades": TRADES_SCHEMA}
    (tmp_path / "expected").mkdir()
    writers = {name: pq.ParquetWriter(tmp_path / "expected" / f"{name}.parquet", schema, compression="zstd")
               for name, schema in schemas.items()}
    for chunk in open_feed(feed, errors=ErrorLog(), chunk_bytes=4096):
        for name, table in book.process(chunk).items():
            if table.num_rows:
                writers[name].write_table(table)
    for writer in writers.values():
        writer.add_key_value_metadata(metadata)
        writer.close()
    replay_cpu(feed, tmp_path / "replay", depth=2, trades=True, chunk_bytes=4096)
    for name in schemas:
        assert (tmp_path / "replay" / f"{name}.parquet").read_bytes() == \
            (tmp_path / "expected" / f"{name}.parquet").read_bytes(), name


def test_a_failure_in_the_writer_thread_fails_the_replay_with_its_summary(feed, tmp_path, monkeypatch):
    def disk_full(self, table, row_group_size=None):
        raise OSError("disk full")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", disk_full)
    # Small chunks: many more than the writer's queue holds, so a stuck queue would hang here.
    with pytest.raises(ReplayFailed, match="disk full") as failed:
        replay_cpu(feed, tmp_path, chunk_bytes=1024)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary == failed.value.summary
    assert summary["failed"] == "OSError: disk full"
    assert summary["errors"]["replay_failed"]["count"] == 1
    assert summary["rows"] == {"bbo": 0}
