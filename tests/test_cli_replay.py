"""The `replay`, `dump` and `stats` subcommands, end to end."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from feeds import binaryfile, random_messages
from tickaccel.cli import main


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    path = tmp_path_factory.mktemp("feed") / "day.itch"
    path.write_bytes(binaryfile(random_messages(8, 1_000, n_symbols=3, faults=True)))
    return path


def test_replay_prints_counts_and_writes_tables(feed, tmp_path, capsys):
    assert main(["replay", str(feed), "-o", str(tmp_path), "--depth", "2", "--trades"]) == 0
    out = capsys.readouterr().out
    assert "messages" in out and "msg/s" in out and "unknown_order_ref" in out
    assert pq.read_metadata(tmp_path / "depth.parquet").num_rows > 0


def test_replay_json_is_the_summary(feed, tmp_path, capsys):
    assert main(["replay", str(feed), "-o", str(tmp_path), "--json", "--engine", "oracle",
                 "--symbols", "AAPL"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((tmp_path / "summary.json").read_text())
    assert printed["engine"] == "oracle"


def test_replay_with_signals_writes_signal_table(feed, tmp_path, capsys):
    assert main(["replay", str(feed), "-o", str(tmp_path), "--signals",
                 "--signal-backend", "numpy"]) == 0
    assert (tmp_path / "signals.parquet").is_file()


def test_several_feeds_replay_each_into_its_own_folder(feed, tmp_path, capsys):
    other = tmp_path / "next.itch"
    other.write_bytes(feed.read_bytes())
    assert main(["replay", str(feed), str(other), "-o", str(tmp_path / "out")]) == 0
    day = pq.read_table(tmp_path / "out" / "day" / "bbo.parquet")
    assert day.num_rows > 0
    assert day.equals(pq.read_table(tmp_path / "out" / "next" / "bbo.parquet"))


def test_feeds_with_the_same_file_name_are_refused(feed, tmp_path):
    twin = tmp_path / "day.itch"
    twin.write_bytes(feed.read_bytes())
    assert main(["replay", str(feed), str(twin), "-o", str(tmp_path / "out")]) == 2


def test_backend_sim_refuses_tables_it_cannot_write(feed, tmp_path):
    assert main(["replay", str(feed), "-o", str(tmp_path), "--backend", "sim", "--trades"]) == 2


def test_dump_filters_types_and_limits(feed, capsys):
    assert main(["dump", str(feed), "--type", "A,D", "--limit", "4", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 4
    assert {line["type"] for line in lines} <= {"A", "D"}
    assert [line["seq"] for line in lines] == sorted(line["seq"] for line in lines)


def test_dump_human_readable_names_the_message(feed, capsys):
    assert main(["dump", str(feed), "--limit", "1"]) == 0
    assert "stock_directory" in capsys.readouterr().out


def test_stats_json_counts_types_symbols_and_errors(feed, capsys):
    assert main(["stats", str(feed), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["symbols"] == {"1": "AAPL", "2": "MSFT", "3": "SPY"}
    assert stats["message_counts"]["R"] == 3
    assert "unknown_order_ref" in stats["errors"]


@pytest.mark.parametrize("args", [["replay", "{missing}", "-o", "{out}"],
                                  ["replay", "{text}", "-o", "{out}"],
                                  ["stats", "{missing}"], ["dump", "{text}"],
                                  ["replay", "{feed}", "-o", "{out}", "--engine", "gpu"]])
def test_unusable_input_is_one_line_and_nonzero_exit(args, feed, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a feed\n" * 20)
    argv = [a.format(missing=tmp_path / "missing.itch", text=text, out=tmp_path / "o", feed=feed)
            for a in args]
    entry = "import sys; from tickaccel.cli import main; sys.exit(main(sys.argv[1:]))"
    # Wide columns: Rich would otherwise fold the one line at 80 characters.
    env = {**os.environ, "COLUMNS": "500"}
    done = subprocess.run([sys.executable, "-c", entry, *argv], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0 and done.stderr.startswith("error:")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("compression", ["lz4", "none"])
def test_replay_compression_option_writes_the_default_tables(feed, tmp_path, compression):
    assert main(["replay", str(feed), "-o", str(tmp_path / "zstd"), "--trades"]) == 0
    assert main(["replay", str(feed), "-o", str(tmp_path / compression), "--trades",
                 "--compression", compression]) == 0
    for name in ("bbo", "trades"):
        assert pq.read_table(tmp_path / compression / f"{name}.parquet").equals(
            pq.read_table(tmp_path / "zstd" / f"{name}.parquet")), name


def test_replay_unknown_compression_is_refused(feed, tmp_path):
    assert main(["replay", str(feed), "-o", str(tmp_path), "--compression", "gzip"]) == 2
    assert not (tmp_path / "bbo.parquet").exists()


def test_replay_writer_failure_exits_1_with_failed_summary(feed, tmp_path, monkeypatch):
    def disk_full(self, table, row_group_size=None):
        raise OSError("disk full")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", disk_full)
    assert main(["replay", str(feed), "-o", str(tmp_path)]) == 1
    assert json.loads((tmp_path / "summary.json").read_text())["failed"] == "OSError: disk full"
