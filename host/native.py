"""The replay path's kernels compiled ahead of time into native modules, so a replay starts
without Numba: neither its import nor its loading of cached kernels.

Numba's cache saves compiling, not starting: importing Numba and loading the first cached
kernel (which initialises its whole CPU target) take ~0.6 s here before any work.
`tickaccel warmup` therefore also builds the kernels registered here (`register`) with
Numba's ahead-of-time compiler, from the same source, for the argument types the warmup
called them with, one extension module per kernel in a folder of `directory`.
`compiled(kernel)` hands a caller the native function when the folder is built for today's
source and the arguments match one of its signatures (checked on every call: a native
function trusts its argument types), else the kernel itself, which imports Numba on its
first call (`tickaccel.jit`). Without a C compiler nothing is built and everything runs
through Numba as before. A native function holds the GIL while it runs; code that must run
kernels on several threads at once calls the kernels themselves.

The folder's name carries a digest of the kernels' source files, the package's record
layouts (`tickaccel.schema`) and the Python, NumPy and Numba versions, so an edited kernel
never runs stale native code: its digest names a folder not built yet.
"""
from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import inspect
import json
import os
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np

_KERNELS: dict[str, object] = {}  # export name -> the kernel (`tickaccel.jit.kernel`)
_SCHEMA = Path(__file__).parent / "schema"
_ENV_DIR = "TICKACCEL_NATIVE_DIR"  # where the modules are kept, if not beside the package
_SUFFIX = sysconfig.get_config_var("EXT_SUFFIX")
_loaded: dict | None = None  # export name -> [(argument checks, native function)]; {} when none
_calls: dict[str, Callable] = {}  # export name -> what `compiled` hands out


def register(kernel):
    """Mark a module-level kernel for the native build; returns it unchanged, so it can decorate."""
    _KERNELS[_export_name(kernel)] = kernel
    return kernel


def compiled(kernel) -> Callable:
    """What to call for `kernel` (a registered kernel): a guard that runs its native build on
    arguments of a built signature and the kernel on any others; the kernel itself when
    nothing is built."""
    name = _export_name(kernel)
    if name not in _calls:
        variants = _native().get(name)

        def call(*args):
            for checks, function in variants:
                if _matches(checks, args):
                    return function(*args)
            return kernel(*args)

        _calls[name] = call if variants else kernel
    return _calls[name]


def built() -> bool:
    """Whether the native modules for today's source are built and load."""
    return bool(_native())


def directory() -> Path:
    """Where the native modules are built and looked for: $TICKACCEL_NATIVE_DIR, else the
    package's __pycache__ when writable, else ~/.cache/tickaccel."""
    if os.environ.get(_ENV_DIR):
        return Path(os.environ[_ENV_DIR])
    beside = Path(__file__).parent / "__pycache__"
    if os.access(beside if beside.exists() else beside.parent, os.W_OK):
        return beside
    return Path.home() / ".cache" / "tickaccel"


def module_name() -> str:
    """The name of the native modules' folder (and their prefix) for today's source and versions."""
    digest = hashlib.sha256()
    files = {Path(inspect.getsourcefile(k.py_func)) for k in _KERNELS.values()} | set(_SCHEMA.glob("*.py"))
    for path in sorted(files):
        digest.update(path.name.encode() + path.read_bytes())
    for package in ("numpy", "numba"):
        digest.update(metadata.version(package).encode())
    digest.update(sys.version.encode())
    return f"tickaccel_native_{digest.hexdigest()[:16]}"


def build(kernels=None) -> Path:
    """Compile every registered kernel (or those of `kernels`), for each signature its
    dispatcher has compiled so far, into native modules (one per kernel) in a folder named by
    `module_name`; returns it. Raises when no C compiler can build them."""
    import warnings

    from numba import types

    with warnings.catch_warnings():  # Numba marks its ahead-of-time compiler for replacement
        warnings.simplefilter("ignore")
        from numba.pycc import CC

    name = module_name()
    target = directory() / name
    checks: dict[str, list] = {}
    with tempfile.TemporaryDirectory() as work:
        chosen = _KERNELS if kernels is None else {_export_name(k): k for k in kernels}
        for export, kernel in sorted(chosen.items()):
            # One module per kernel: Numba's ahead-of-time compiler can mistype a kernel
            # compiled in one module after another.
            compiler = CC(f"{name}_{export}")
            compiler.output_dir = work
            signatures = {tuple(_plain(t) for t in s.args): types.unliteral(s.return_type)
                          for s in kernel.nopython_signatures}
            for i, args in enumerate(sorted(signatures, key=str)):
                compiler.export(f"signature_{i}", signatures[args](*args))(kernel.py_func)
                checks.setdefault(export, []).append([_argument_check(t) for t in args])
            if signatures:
                compiler.compile()
        target.mkdir(parents=True, exist_ok=True)
        for built in Path(work).glob(f"{name}_*{_SUFFIX}"):
            shutil.move(built, target / built.name)
    (target / "signatures.json").write_text(json.dumps(checks))
    global _loaded
    _loaded = None  # the next `compiled` loads them
    _calls.clear()
    return target


def _plain(numba_type):
    """An argument type as a caller from Python gives it: compiled callers may pass constants
    (literal types), and read-only arrays run the same native code as writable ones."""
    from numba import types

    numba_type = types.unliteral(numba_type)
    if isinstance(numba_type, types.Array) and not numba_type.mutable:
        return numba_type.copy(readonly=False)
    return numba_type


def _export_name(kernel) -> str:
    return f"{kernel.py_func.__module__.replace('.', '_')}__{kernel.py_func.__name__}"


def _native() -> dict:
    """The built modules' functions by export name, loaded once; {} when they are not built."""
    global _loaded
    if _loaded is None:
        _loaded = {}
        folder = directory() / module_name()
        if (folder / "signatures.json").exists():
            for export, signatures in json.loads((folder / "signatures.json").read_text()).items():
                module_name_ = f"{folder.name}_{export}"
                loader = importlib.machinery.ExtensionFileLoader(module_name_,
                                                                 str(folder / f"{module_name_}{_SUFFIX}"))
                module = importlib.util.module_from_spec(importlib.util.spec_from_loader(module_name_, loader))
                loader.exec_module(module)
                _loaded[export] = [([_decode_check(c) for c in args], getattr(module, f"signature_{i}"))
                                   for i, args in enumerate(signatures)]
    return _loaded


def _argument_check(numba_type) -> list:
    """How to recognise an argument of `numba_type` without Numba: an array's dtype, ndim
    and whether it must be C-contiguous, or a scalar's kind."""
    from numba import types
    from numba.np.numpy_support import as_dtype

    if isinstance(numba_type, types.Array):
        return ["array", _dtype_json(as_dtype(numba_type.dtype)), numba_type.ndim, numba_type.layout == "C"]
    if isinstance(numba_type, types.Boolean):
        return ["bool"]
    if isinstance(numba_type, types.Integer):
        return ["int"]
    raise TypeError(f"no native argument check for {numba_type}")


def _dtype_json(dtype: np.dtype):
    if dtype.subdtype is not None:  # a fixed-size array field
        base, shape = dtype.subdtype
        return {"base": _dtype_json(base), "shape": list(shape)}
    if dtype.fields is None:
        return dtype.str
    return {"names": list(dtype.names), "formats": [_dtype_json(dtype.fields[n][0]) for n in dtype.names],
            "offsets": [dtype.fields[n][1] for n in dtype.names], "itemsize": dtype.itemsize}


def _json_dtype(description) -> np.dtype:
    if isinstance(description, dict) and "base" in description:
        return np.dtype((_json_dtype(description["base"]), tuple(description["shape"])))
    if isinstance(description, dict):
        return np.dtype({**description, "formats": [_json_dtype(f) for f in description["formats"]]})
    return np.dtype(description)


def _decode_check(check: list) -> tuple:
    if check[0] == "array":
        return "array", _json_dtype(check[1]), check[2], check[3]
    return (check[0],)


_SCALARS = {"int": (int, np.integer), "bool": (bool, np.bool_)}
_layouts: dict[tuple[np.dtype, np.dtype], bool] = {}  # (expected, given) -> same bytes


def _same_layout(expected: np.dtype, given: np.dtype) -> bool:
    """Whether `given` lays its bytes out as `expected`: the same fields at the same offsets
    (in any order: Numba lists a record's fields by offset) and the same size."""
    key = (expected, given)
    if key not in _layouts:
        _layouts[key] = _fields(expected) == _fields(given)
    return _layouts[key]


def _fields(dtype: np.dtype):
    if dtype.fields is None:
        return dtype.str if dtype.subdtype is None else (_fields(dtype.subdtype[0]), dtype.subdtype[1])
    return dtype.itemsize, sorted((name, offset, _fields(field)) for name, (field, offset, *_) in dtype.fields.items())


def _matches(checks: list[tuple], args: tuple) -> bool:
    if len(checks) != len(args):
        return False
    for check, arg in zip(checks, args):
        if check[0] == "array":
            if not (isinstance(arg, np.ndarray) and arg.ndim == check[2] and _same_layout(check[1], arg.dtype)
                    and (not check[3] or arg.flags.c_contiguous)):
                return False
        elif not isinstance(arg, _SCALARS[check[0]]) or (check[0] == "int" and isinstance(arg, (bool, np.bool_))):
            return False
    return True
