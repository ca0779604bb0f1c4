"""`tickaccel replay` on unusable files and options and on failures mid-replay: one line, no traceback."""
from __future__ import annotations

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from feeds import binaryfile, random_messages
from tickaccel.batch.backends import replay
from tickaccel.batch.summary import ReplayFailed
from tickaccel.book.fast import FastBook
from tickaccel.cli import main
from tickaccel.errors import ErrorLog
from tickaccel.feed.source import open_feed

SMALL_CHUNK = 4096  # bytes: a feed of a few thousand messages is several chunks


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    path = tmp_path_factory.mktemp("feed") / "day.itch"
    path.write_bytes(binaryfile(random_messages(5, 2_000, n_symbols=3)))
    return path


def run(capsys, *args) -> tuple[int, str]:
    """Exit code and stderr of ``tickaccel replay ARGS``; stderr must be one line, no traceback."""
    code = main(["replay", *map(str, args)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return code, err


def test_an_output_path_that_is_a_file_is_refused(feed, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("")
    assert run(capsys, feed, "-o", taken) == (2, f"error: the output folder exists as a file: {taken}\n")


def test_an_output_folder_that_cannot_be_made_names_the_reason(feed, tmp_path, capsys):
    # Under a regular file: a real OSError even as root, where chmod would change nothing.
    under_a_file = tmp_path / "taken"
    under_a_file.write_text("")
    code, err = run(capsys, feed, "-o", under_a_file / "out")
    assert code == 2 and "cannot make the output folder" in err and "Not a directory" in err
    code, err = run(capsys, feed, "-o", "/proc/tickaccel-out")
    assert code == 2 and "/proc/tickaccel-out" in err


def test_summary_json_that_is_a_folder_is_refused_before_the_replay(feed, tmp_path, capsys):
    (tmp_path / "summary.json").mkdir()
    code, err = run(capsys, feed, "-o", tmp_path)
    assert code == 2 and "summary.json is a folder" in err
    assert not (tmp_path / "bbo.parquet").exists()


@pytest.mark.parametrize("symbols", ["€", "AAPL,TOOLONGNAME", "A\tB"])
def test_symbols_no_itch_feed_can_carry_are_refused(feed, tmp_path, capsys, symbols):
    code, err = run(capsys, feed, "-o", tmp_path, "--symbols", symbols)
    assert code == 2 and "ITCH symbols are 1 to 8 ASCII characters" in err


@pytest.mark.parametrize("depth", ["100000", "101", "-1"])
def test_a_depth_beyond_the_maximum_is_refused(feed, tmp_path, capsys, depth):
    code, err = run(capsys, feed, "-o", tmp_path, "--depth", depth)
    assert code == 2 and "--depth must be 0 to 100" in err
    assert not (tmp_path / "bbo.parquet").exists()


def test_depth_100_on_a_small_feed_holds_a_bounded_depth_table(feed, tmp_path, capsys, monkeypatch):
    from tickaccel.batch import cpu
    from tickaccel.book.fast import DEPTH_CELL_BUDGET

    capacities = []

    def make_book(*args, **kwargs):
        book = FastBook(*args, **kwargs)
        capacities.append(book.depth_row_capacity)
        return book

    monkeypatch.setattr(cpu, "make_book",
                        lambda engine, depth, trades, symbols, threads: make_book(depth, trades, symbols))
    assert main(["replay", str(feed), "-o", str(tmp_path), "--depth", "100", "--json"]) == 0
    assert capacities and capacities[0] * 2 * 100 <= DEPTH_CELL_BUDGET
    assert json.loads(capsys.readouterr().out)["rows"]["depth"] > 0


@pytest.mark.parametrize("args", [["{feed}", "true", "--trades"], ["{feed}", "--trades", "true"]])
def test_a_value_given_to_a_switch_fails_before_any_feed_is_replayed(feed, tmp_path, capsys, args):
    out = tmp_path / "out"
    code, err = run(capsys, *(a.format(feed=feed) for a in args), "-o", out)
    assert code == 2 and "no such file: true" in err and "take no value" in err
    assert not any(out.rglob("*.parquet"))


def test_every_feed_is_checked_before_the_first_is_replayed(feed, tmp_path, capsys):
    out = tmp_path / "out"
    code, err = run(capsys, feed, tmp_path / "missing.itch", "-o", out)
    assert code == 2 and "no such file" in err and "missing.itch" in err
    assert not any(out.rglob("*.parquet"))


def test_a_folder_as_input_says_so(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    code, err = run(capsys, tmp_path / "in", "-o", tmp_path / "out")
    assert code == 2 and "is a directory" in err


def test_a_fifo_as_input_says_it_is_no_regular_file(tmp_path, capsys):
    os.mkfifo(tmp_path / "pipe")
    code, err = run(capsys, tmp_path / "pipe", "-o", tmp_path / "out")
    assert code == 2 and "not a regular file (a FIFO)" in err


def test_dev_null_as_input_says_it_is_a_device(tmp_path, capsys):
    code, err = run(capsys, "/dev/null", "-o", tmp_path / "out")
    assert code == 2 and "not a regular file (a device)" in err


def test_a_missing_spec_file_fails_before_the_replay(feed, tmp_path, capsys):
    code, err = run(capsys, feed, "-o", tmp_path, "--signals", "--spec", tmp_path / "nope.toml")
    assert code == 2 and "no such file" in err
    assert not (tmp_path / "bbo.parquet").exists()


class Failure:
    """What the fast book raises on the second chunk."""

    raised: BaseException = RuntimeError()


@pytest.fixture
def failing_book(monkeypatch) -> Failure:
    """Small chunks, and a fast book whose `process` raises the returned `Failure` on the second chunk."""
    from tickaccel.batch import cpu

    failure = Failure()

    monkeypatch.setattr(cpu, "open_feed", lambda path, *, errors, chunk_bytes, file_read=None: open_feed(
        path, errors=errors, chunk_bytes=SMALL_CHUNK, file_read=file_read))
    calls = []
    process = FastBook.process

    def fail_after_the_first_chunk(self, chunk):
        calls.append(chunk)
        if len(calls) == 2:  # only the replay's second chunk: `first_chunk_alone` comes after
            raise failure.raised
        return process(self, chunk)

    monkeypatch.setattr(FastBook, "process", fail_after_the_first_chunk)
    return failure


def first_chunk_alone(feed) -> tuple[dict[str, pa.Table], FastBook, int]:
    """The tables and the book of the feed's first chunk on its own, and its length in bytes."""
    book = FastBook()
    first = next(iter(open_feed(feed, errors=ErrorLog(), chunk_bytes=SMALL_CHUNK)))
    return book.process(first), book, len(first.data)


def test_an_exception_mid_replay_leaves_the_summary_of_what_was_written(feed, tmp_path, capsys,
                                                                        failing_book):
    failing_book.raised = RuntimeError("decoder bug")
    code, err = run(capsys, feed, "-o", tmp_path)
    assert code == 1 and "failed" in err and "decoder bug" in err and "summary.json" in err
    summary = json.loads((tmp_path / "summary.json").read_text())
    tables, book, length = first_chunk_alone(feed)
    assert summary["failed"] == "RuntimeError: decoder bug"
    assert summary["errors"]["replay_failed"] == {"count": 1, "first_position": length}
    assert summary["rows"] == {"bbo": tables["bbo"].num_rows}
    assert summary["message_counts"] == book.message_counts
    assert pq.read_table(tmp_path / "bbo.parquet").equals(tables["bbo"])


def test_memory_error_mid_replay_is_one_line_too(feed, tmp_path, capsys, failing_book):
    failing_book.raised = MemoryError()
    code, err = run(capsys, feed, "-o", tmp_path)
    assert code == 1 and "MemoryError" in err
    assert json.loads((tmp_path / "summary.json").read_text())["failed"] == "MemoryError"


def test_an_interrupt_mid_replay_exits_130_with_the_summary(feed, tmp_path, capsys, failing_book):
    failing_book.raised = KeyboardInterrupt()
    code, err = run(capsys, feed, "-o", tmp_path)
    assert code == 130 and "interrupted" in err
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["failed"] == "KeyboardInterrupt"
    assert summary["rows"]["bbo"] == first_chunk_alone(feed)[0]["bbo"].num_rows > 0


def test_debug_shows_the_traceback(feed, tmp_path, failing_book):
    failing_book.raised = RuntimeError("decoder bug")
    with pytest.raises(ReplayFailed) as raised:
        main(["--debug", "replay", str(feed), "-o", str(tmp_path)])
    assert isinstance(raised.value.__cause__, RuntimeError)


def test_a_backend_without_counts_still_leaves_a_summary_that_names_the_failure(feed, tmp_path,
                                                                               monkeypatch):
    from tickaccel.batch import cpu

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cpu, "replay_cpu", broken)
    with pytest.raises(ReplayFailed, match="No space left on device") as raised:
        replay(feed, tmp_path)
    assert raised.value.summary == json.loads((tmp_path / "summary.json").read_text())
    assert raised.value.summary["failed"] == "OSError: [Errno 28] No space left on device"
    assert raised.value.summary["errors"]["replay_failed"]["count"] == 1
