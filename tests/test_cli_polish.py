"""The command line as a new user meets it: flags that look like flags, a folder of an earlier
replay refused or replaced, symbols the feed lacks named, compile time said and not counted."""
from __future__ import annotations

import json

import numpy as np
import pytest
from numba import njit

from tickaccel.batch import replay
from tickaccel.batch.summary import replay_summary
from tickaccel.cli import main
from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.feed.generator import generate
from tickaccel.jit import CompileWatch


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    path = tmp_path_factory.mktemp("polish") / "feed.itch"
    path.write_bytes(generate(20_000, n_symbols=40, seed=2).tobytes())
    return path


@pytest.mark.parametrize("command", [["replay"], ["book"], ["live"], ["publish"], ["plot"], ["fpga", "status"]])
def test_flags_show_as_flags(command, capsys):
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "--help" in out and "<bool>" not in out


def test_info_shows_install_hints_with_their_extras(capsys, monkeypatch):
    from tickaccel.backends import Backend
    from tickaccel.cli import info

    missing = Backend("cuda", False, "cupy is not installed (pip install 'tickaccel[gpu]')")
    monkeypatch.setattr(info, "discover", lambda: {"cuda": missing})
    assert main(["info"]) == 0
    assert "pip install 'tickaccel[gpu]'" in capsys.readouterr().out


def test_a_folder_of_an_earlier_replay_is_refused_unless_overwritten(feed, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["replay", str(feed), "-o", str(out), "--trades"]) == 0
    (out / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main(["replay", str(feed), "-o", str(out)]) == 2
    assert "already holds a replay" in capsys.readouterr().err
    assert (out / "trades.parquet").exists()
    with pytest.raises(TickaccelError, match="--overwrite"):
        replay(feed, out)
    # Replaced: no trades.parquet of the first run beside the second's tables; other files stay.
    assert main(["replay", str(feed), "-o", str(out), "--overwrite"]) == 0
    assert not (out / "trades.parquet").exists()
    assert (out / "bbo.parquet").exists() and (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "summary.json").read_text())["outputs"] == {"bbo": str(out / "bbo.parquet")}
    replay(feed, out, trades=True, overwrite=True)
    assert (out / "trades.parquet").exists()


def test_symbols_the_feed_does_not_name_are_reported(feed, tmp_path, capsys):
    summary = replay(feed, tmp_path / "lib", symbols=["AAPL", "NOPE"])
    assert summary["symbols"]["not_in_feed"] == ["NOPE"]
    assert summary["symbols"]["in_feed"] == 40 and len(summary["symbols"]["examples"]) == 5
    assert summary["rows"]["bbo"] > 0  # AAPL's rows: a generated feed of 40 symbols names it
    assert main(["replay", str(feed), "-o", str(tmp_path / "cli"), "--symbols", "ZZZZ,QQQ"]) == 0
    out = capsys.readouterr().out
    assert "no rows for ZZZZ: not in the feed, which names 40 symbols (e.g. " in out


def test_compile_time_is_watched_and_left_out_of_the_rate():
    @njit
    def inner(x):
        return x * 2

    @njit
    def outer(x):
        return inner(x) + 1

    announced = []
    with CompileWatch(lambda: announced.append(True)) as watch:
        assert outer(np.int64(3)) == 7
        assert outer(np.int64(4)) == 9  # compiled already: nothing more
    assert watch.compiled == 1 and watch.seconds > 0 and announced == [True]
    with CompileWatch() as again:
        outer(np.int64(5))
    assert again.compiled == 0 and again.seconds == 0
    summary = replay_summary("f", "binaryfile", "fast", message_counts={"A": 1000}, rows={},
                             outputs={}, elapsed=3.0, errors=ErrorLog(), compile_s=2.0)
    assert summary["compile_s"] == 2.0 and summary["messages_per_s"] == 1000.0


def test_warmup_compiles_or_finds_every_kernel(capsys):
    assert main(["warmup"]) == 0
    out = capsys.readouterr().out
    assert "compiled" in out and " s" in out


def test_replay_on_a_terminal_draws_its_progress_bar(feed, tmp_path, monkeypatch):
    """Off a terminal no bar is drawn (and Rich's progress module is not loaded); on one it is."""
    from io import StringIO

    from rich.console import Console
    from tickaccel.cli import replay as replay_cli

    screen = StringIO()
    terminal = Console(file=screen, force_terminal=True, width=120)
    monkeypatch.setattr(replay_cli, "console", lambda: terminal)
    assert main(["replay", str(feed), "-o", str(tmp_path / "out")]) == 0
    drawn = screen.getvalue()
    assert "0:00:0" in drawn and "messages in" in drawn  # the bar's elapsed time, then the summary


def test_info_says_whether_the_replay_kernels_are_native(capsys, monkeypatch, tmp_path):
    from tickaccel import native

    monkeypatch.setattr(native, "_loaded", None)
    monkeypatch.setenv("TICKACCEL_NATIVE_DIR", str(tmp_path))  # nothing built there
    assert main(["info", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["native_replay_kernels"] is False
