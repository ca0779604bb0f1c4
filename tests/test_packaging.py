"""The folder → package mapping holds in a built wheel, not only in the source tree."""
from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
SUBPACKAGES = tuple(_SETUPTOOLS["packages"])


def test_every_package_folder_is_listed_in_pyproject():
    """A new subpackage folder that pyproject.toml does not name would be missing from the wheel."""
    found = {".".join((package, *init.parent.relative_to(ROOT / folder).parts))
             for package, folder in _SETUPTOOLS["package-dir"].items()
             for init in (ROOT / folder).rglob("__init__.py")}
    assert found == set(SUBPACKAGES)


def test_wheel_installs_and_imports_every_subpackage(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(ROOT)],
        check=True,
    )
    wheel = next((tmp_path / "dist").glob("tickaccel-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("tickaccel/hw/rtl/") and n.endswith(".v") for n in names), \
        "RTL sources are missing from the wheel"

    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         str(wheel)],
        check=True,
    )
    # The installed copy must shadow the editable source tree: check where each import came from.
    probe = (
        "import importlib, sys\n"
        f"for name in {SUBPACKAGES!r}:\n"
        "    mod = importlib.import_module(name)\n"
        f"    assert mod.__file__.startswith({str(target)!r}), (name, mod.__file__)\n"
        "import tickaccel.cli\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
