"""Numba kernels that import Numba only when one must compile or run through it, and the time
spent compiling them, so a first run can say so and keep it out of its throughput.

A replay whose kernels are built ahead of time (`tickaccel.native`) never needs Numba, whose
import alone takes a quarter of a second. So the replay path's modules declare their kernels
with `kernel` (``@kernel(cache=True)`` for ``@njit(cache=True)``) and their Numba intrinsics
with `lazy`: both stand in for the real objects until `materialize`, which the first call of
any of them makes, imports Numba, makes every one real and puts it in place of its stand-in
in every tickaccel module's namespace, so Numba compiling one kernel finds the others real.
A module whose own Numba code calls kernels from these calls `materialize` when imported.

Kernels are compiled once per machine and cached (``cache=True``); a later run loads them
from the cache, which Numba does not count as compiling. `CompileWatch` listens to Numba's
compile events (fired for cache misses only) while it is active.
"""
from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

_STAND_INS: list = []  # every `Kernel` and `Lazy` made, in order
_on_materialize: list[Callable[[], None]] = []  # what waits for Numba (compile watches)
_lock = threading.RLock()
_materialized = False


class Kernel:
    """A Numba kernel before Numba is imported: `py_func` and the ``njit`` options; a call, or
    any attribute of a Numba dispatcher, makes it real (`materialize`)."""

    def __init__(self, py_func: Callable, options: dict) -> None:
        self.py_func = py_func
        self.options = options
        self.real = None
        self.__name__ = py_func.__name__
        self.__doc__ = py_func.__doc__
        _STAND_INS.append(self)

    def make(self):
        return _njit(self.py_func, self.options)

    def __call__(self, *args):
        return _real(self)(*args)

    def __getattr__(self, name: str):
        if name in ("real", "py_func", "options"):  # not set yet: no Numba to ask
            raise AttributeError(name)
        return getattr(_real(self), name)


class Lazy:
    """Any object made by Numba (an intrinsic): `factory()` makes it at `materialize`."""

    def __init__(self, factory: Callable[[], object]) -> None:
        self.factory = factory
        self.real = None
        _STAND_INS.append(self)

    def make(self):
        return self.factory()


def kernel(function: Callable | None = None, **options):
    """``@kernel(cache=True, ...)`` declares a Numba kernel as ``@njit(...)`` would, imported
    lazily (once `materialize` has run, a module imported later gets the real one at once)."""
    def declare(f: Callable):
        with _lock:
            return _njit(f, options) if _materialized else Kernel(f, options)

    return declare(function) if function is not None else declare


def _njit(function: Callable, options: dict):
    from numba import njit

    return njit(**options)(function)


def lazy(factory: Callable[[], object]):
    """A Numba object (an intrinsic) made by `factory` when Numba is imported."""
    with _lock:
        return factory() if _materialized else Lazy(factory)


def materialize() -> None:
    """Import Numba, make every stand-in real and put it in its place in the tickaccel modules."""
    global _materialized
    with _lock:
        if _materialized:
            return
        for stand_in in _STAND_INS:
            stand_in.real = stand_in.make()
        _type_stand_ins_as_their_real_objects()
        real = {id(s): s.real for s in _STAND_INS}
        for name, module in list(sys.modules.items()):
            if name.startswith("tickaccel") and module is not None:
                namespace = vars(module)
                for key, value in list(namespace.items()):
                    if id(value) in real and isinstance(value, (Kernel, Lazy)):
                        namespace[key] = real[id(value)]
        _materialized = True
        for callback in _on_materialize:
            callback()
        _on_materialize.clear()


def _type_stand_ins_as_their_real_objects() -> None:
    """Numba code that still finds a stand-in (held somewhere the namespaces did not show,
    such as a value a test put back) compiles as if it were the real object."""
    from numba.core.typing.typeof import typeof, typeof_impl

    def typeof_stand_in(value, context):
        return typeof(value.real, context.purpose)

    typeof_impl.register(Kernel)(typeof_stand_in)
    typeof_impl.register(Lazy)(typeof_stand_in)


def _real(stand_in):
    if stand_in.real is None:
        materialize()
    return stand_in.real


class CompileWatch:
    """Seconds spent compiling while active (outermost compiles only: a kernel's callees are
    compiled inside it); `on_first` is called when the first compile starts.

    Use as a context manager; compiles on any thread count. Before Numba is imported it waits
    for `materialize` to listen: nothing compiles before that.
    """

    def __init__(self, on_first: Callable[[], None] | None = None) -> None:
        self.seconds = 0.0
        self.compiled = 0  # outermost compiles
        self._on_first = on_first
        self._depth = 0
        self._started = 0.0
        self._lock = threading.Lock()
        self._listener = None

    def on_start(self) -> None:
        with self._lock:
            self._depth += 1
            if self._depth > 1:
                return
            self._started = time.perf_counter()
            first = self.compiled == 0
            self.compiled += 1
        if first and self._on_first is not None:
            self._on_first()

    def on_end(self) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                self.seconds += time.perf_counter() - self._started

    def _listen(self) -> None:
        from numba.core import event

        watch = self

        class Listener(event.Listener):
            def on_start(self, ev: event.Event) -> None:
                watch.on_start()

            def on_end(self, ev: event.Event) -> None:
                watch.on_end()

        self._listener = Listener()
        event.register("numba:compile", self._listener)

    def __enter__(self) -> CompileWatch:
        with _lock:
            if "numba" in sys.modules:
                self._listen()
            else:
                _on_materialize.append(self._listen)
        return self

    def __exit__(self, *exc: object) -> None:
        with _lock:
            if self._listener is not None:
                from numba.core import event

                event.unregister("numba:compile", self._listener)
                self._listener = None
            elif self._listen in _on_materialize:
                _on_materialize.remove(self._listen)
