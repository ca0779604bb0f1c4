"""The layout holds: imports go down the layers of the data flow, and no import cycle exists.

Read from the source with `ast`, so function-local imports count as much as module-level
ones (a cycle hidden inside a function is still a cycle). docs/architecture.md draws the
same picture for people.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"tickaccel": ROOT / "host", "tickaccel.kernels": ROOT / "kernels",
           "tickaccel.sim": ROOT / "sim", "tickaccel.hw": ROOT / "hw"}

# What each layer of host/ may import, besides itself and the side modules.
LAYER_IMPORTS = {
    "schema": set(),
    "feed": {"schema"},
    "book": {"feed", "schema"},
    "fpga": {"book", "feed", "schema"},
    "batch": {"fpga", "book", "feed", "schema"},
    "live": {"book", "feed", "schema"},
    "cli": {"batch", "live", "fpga", "book", "feed", "schema", "kernels"},
}
# Beside the layers, importing none of them.
SIDE_MODULES = {"errors", "backends", "lazy", "jit", "native", "version", "hw"}
# What product code may use of tickaccel.sim: starting a simulation, never a testbench or its model.
SIM_ENTRY_POINTS = {"tickaccel.sim", "tickaccel.sim.runner", "tickaccel.sim.book_runner", "tickaccel.sim.job"}


def _modules() -> dict[str, Path]:
    found = {}
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every tickaccel module `name` imports, resolved to a module that exists."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            for alias in node.names:  # a submodule by name, else a name the module defines
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in MODULES else base)
    return {t for t in targets if t in MODULES and t != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[:2] in (["tickaccel", "kernels"], ["tickaccel", "sim"], ["tickaccel", "hw"]):
        return parts[1]
    return parts[1] if len(parts) > 1 else None


def test_layers_import_only_the_layers_below():
    wrong = []
    for module, targets in GRAPH.items():
        layer = _layer(module)
        if layer not in LAYER_IMPORTS and layer not in SIDE_MODULES:
            continue
        allowed = {None, layer} | SIDE_MODULES | LAYER_IMPORTS.get(layer, set())
        for target in targets:
            if target in SIM_ENTRY_POINTS and layer in LAYER_IMPORTS:
                continue
            if _layer(target) not in allowed:
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports against the layer order:\n" + "\n".join(sorted(wrong))


def test_product_code_never_imports_a_testbench_or_its_model():
    wrong = [f"{module} -> {target}" for module, targets in GRAPH.items()
             if _layer(module) in LAYER_IMPORTS or _layer(module) in {"kernels", "hw"}
             for target in targets if _layer(target) == "sim" and target not in SIM_ENTRY_POINTS]
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycle():
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(GRAPH):
        if module not in state:
            cycle = visit(module)
            assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_every_layer_has_its_package():
    assert {f"tickaccel.{layer}" for layer in LAYER_IMPORTS} <= set(MODULES)
