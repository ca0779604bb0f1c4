"""Kernels compiled ahead of time: the same answers as Numba's, used only for today's source
and for arguments of a built signature."""
from __future__ import annotations

import numpy as np
import pytest

from feeds import binaryfile, random_messages
from tickaccel import native
from tickaccel.feed.binaryfile import record_offsets, whole_records_end


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """The native modules kept in a folder of this test's own, nothing loaded yet."""
    monkeypatch.setenv("TICKACCEL_NATIVE_DIR", str(tmp_path))
    monkeypatch.setattr(native, "_loaded", None)
    monkeypatch.setattr(native, "_calls", {})
    yield tmp_path
    native._calls.clear()


def _feed() -> np.ndarray:
    return np.frombuffer(binaryfile(random_messages(3, 2_000, faults=True)) + b"\x00\x07AB", np.uint8).copy()


def test_built_kernels_give_numba_answers(fresh):
    data = _feed()
    expected = (record_offsets(data), whole_records_end(data, 10**6))  # compiles these signatures
    assert not native.built()
    folder = native.build([record_offsets, whole_records_end])
    assert folder.parent == fresh and len(list(folder.glob("*.so"))) == 2
    offsets, whole = native.compiled(record_offsets), native.compiled(whole_records_end)
    assert offsets is not record_offsets and whole is not whole_records_end
    assert np.array_equal(offsets(data), expected[0])
    assert whole(data, 10**6) == expected[1]


def test_arguments_of_no_built_signature_go_to_numba(fresh):
    data = _feed()
    record_offsets(data)
    native.build([record_offsets])
    calls = []
    native_call = native._native()["tickaccel_feed_binaryfile__record_offsets"][0][1]
    native._loaded["tickaccel_feed_binaryfile__record_offsets"][0] = (
        native._loaded["tickaccel_feed_binaryfile__record_offsets"][0][0],
        lambda *args: calls.append(args) or native_call(*args))
    strided = np.repeat(data, 2)[::2]  # not contiguous: the built signature wants C order
    assert np.array_equal(native.compiled(record_offsets)(strided), record_offsets(data))
    assert calls == []
    native.compiled(record_offsets)(data)
    assert len(calls) == 1


def test_modules_of_other_source_are_not_loaded(fresh, monkeypatch):
    record_offsets(_feed())
    native.build([record_offsets])
    monkeypatch.setattr(native, "_loaded", None)
    monkeypatch.setattr(native, "_calls", {})
    monkeypatch.setattr(native, "module_name", lambda: "tickaccel_native_0000000000000000")
    assert not native.built()
    assert native.compiled(record_offsets) is record_offsets
