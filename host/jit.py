"""Time spent compiling Numba kernels, so a first run can say so and keep it out of its throughput.

Kernels are compiled once per machine and cached (``cache=True``); a later run loads them
from the cache, which Numba does not count as compiling. `CompileWatch` listens to Numba's
compile events (fired for cache misses only) while it is active.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

from numba.core import event


class CompileWatch(event.Listener):
    """Seconds spent compiling while active (outermost compiles only: a kernel's callees are
    compiled inside it); `on_first` is called when the first compile starts.

    Use as a context manager; compiles on any thread count.
    """

    def __init__(self, on_first: Callable[[], None] | None = None) -> None:
        self.seconds = 0.0
        self.compiled = 0  # outermost compiles
        self._on_first = on_first
        self._depth = 0
        self._started = 0.0
        self._lock = threading.Lock()

    def on_start(self, ev: event.Event) -> None:
        with self._lock:
            self._depth += 1
            if self._depth > 1:
                return
            self._started = time.perf_counter()
            first = self.compiled == 0
            self.compiled += 1
        if first and self._on_first is not None:
            self._on_first()

    def on_end(self, ev: event.Event) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                self.seconds += time.perf_counter() - self._started

    def __enter__(self) -> CompileWatch:
        event.register("numba:compile", self)
        return self

    def __exit__(self, *exc: object) -> None:
        event.unregister("numba:compile", self)
