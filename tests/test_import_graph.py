"""The installed layers import downwards only, and no module imports itself in a circle.

The graph is read from the source (every `import`/`from ... import`, at module level, in
functions and under `TYPE_CHECKING`), with the layer folders mapped as setup.py maps them.
A new layer in setup.py's LAYERS fails `test_every_layer_has_a_rank` until it is given its
place in ALLOWED here, which is the one statement of which layer may use which.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import PROJECT_ROOT

# Which layers each layer may import (its own is always allowed). `base` is the
# `bridgelab` package itself (errors, EUI-64, the virtual clock) minus the CLI.
ALLOWED: dict[str, set[str]] = {
    "base": set(),
    "drivers": {"base"},
    "zigbee": {"base"},
    "firmware": {"base"},
    "data": {"base"},
    "emulator": {"base", "drivers", "zigbee", "firmware"},
    "updates": {"base", "drivers", "zigbee", "firmware", "data", "emulator"},
    "gui": {"base", "drivers", "zigbee", "firmware", "data", "emulator", "updates"},
    "cli": {"base", "drivers", "zigbee", "firmware", "data", "emulator", "updates", "gui"},
}


def _layers_of_setup(root: Path) -> dict[str, str]:
    tree = ast.parse((root / "setup.py").read_text(encoding="utf-8"))
    (layers,) = [
        ast.literal_eval(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "LAYERS"
    ]
    assert isinstance(layers, dict)
    return layers


def layer_of(module: str) -> str:
    """The layer a `bridgelab...` module belongs to."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] == "__main__":
        return "cli"  # `python -m bridgelab` is the command line
    if len(parts) > 1 and parts[1] in ALLOWED:
        return parts[1]
    return "base"


def modules(root: Path, layers: dict[str, str]) -> dict[str, Path]:
    """Every installed module name and its source file."""
    found: dict[str, Path] = {}
    for package, folder in layers.items():
        for path in sorted((root / folder).rglob("*.py")):
            relative = path.relative_to(root / folder).with_suffix("")
            parts = [part for part in relative.parts if part != "__init__"]
            found[".".join([package, *parts])] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path, known: dict[str, Path]) -> Iterator[tuple[str, bool]]:
    """(imported bridgelab module, whether it runs at import time) for each import."""

    def visit(node: ast.AST, at_import_time: bool) -> Iterator[tuple[str, bool]]:
        for child in ast.iter_child_nodes(node):
            lazy = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            typing_only = isinstance(child, ast.If) and _is_type_checking(child)
            runs = at_import_time and not lazy and not typing_only
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.startswith("bridgelab"):
                        yield alias.name, runs
            elif (
                isinstance(child, ast.ImportFrom)
                and child.level == 0
                and (child.module or "").startswith("bridgelab")
            ):
                for alias in child.names:
                    submodule = f"{child.module}.{alias.name}"
                    yield (submodule if submodule in known else str(child.module)), runs
            yield from visit(child, runs)

    yield from visit(ast.parse(path.read_text(encoding="utf-8")), True)


def upward_imports(root: Path) -> list[str]:
    """Every import that points up or sideways, as `module -> imported (layer -> layer)`."""
    layers = _layers_of_setup(root)
    known = modules(root, layers)
    wrong = []
    for module, path in known.items():
        source = layer_of(module)
        for target, _ in imports(path, known):
            destination = layer_of(target)
            if destination != source and destination not in ALLOWED[source]:
                wrong.append(f"{module} -> {target} ({source} -> {destination})")
    return wrong


def import_cycles(root: Path) -> list[list[str]]:
    """Cycles among imports that run when a module is imported (Tarjan's components)."""
    layers = _layers_of_setup(root)
    known = modules(root, layers)
    graph = {
        module: sorted({target for target, runs in imports(path, known) if runs} - {module})
        for module, path in known.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph.get(module, []):
            if target not in index:
                connect(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            connect(module)
    return cycles


def test_every_layer_has_a_rank() -> None:
    for package in _layers_of_setup(PROJECT_ROOT):
        assert layer_of(package + ".x") in ALLOWED, package


def test_imports_point_down() -> None:
    assert upward_imports(PROJECT_ROOT) == []


def reaching_past(root: Path, layer: str, internals: tuple[str, ...]) -> list[str]:
    """Imports from `layer` into the packages named in `internals`."""
    known = modules(root, _layers_of_setup(root))
    return [
        f"{module} -> {target}"
        for module, path in known.items()
        if layer_of(module) == layer
        for target, _ in imports(path, known)
        if target.startswith(internals)
    ]


def test_the_gui_reaches_bridges_through_updates_and_the_driver_factory() -> None:
    # The emulated bridge is offered to the app by `updates.emulated`; ZigBee internals
    # belong to the OTA strategy.
    assert reaching_past(PROJECT_ROOT, "gui", ("bridgelab.emulator", "bridgelab.zigbee")) == []


def test_no_import_cycles() -> None:
    assert import_cycles(PROJECT_ROOT) == []


def _tree(root: Path, files: dict[str, str]) -> Path:
    (root / "setup.py").write_text(
        'LAYERS = {"bridgelab": "bridgelab", "bridgelab.drivers": "drivers",'
        ' "bridgelab.updates": "updates"}\n',
        encoding="utf-8",
    )
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_an_upward_import_inside_a_function_is_found(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "bridgelab/__init__.py": "",
            "drivers/__init__.py": "",
            "drivers/link.py": "def f():\n    from bridgelab.updates import engine\n",
            "updates/__init__.py": "",
            "updates/engine.py": "from bridgelab.drivers import link\n",
        },
    )
    assert upward_imports(root) == [
        "bridgelab.drivers.link -> bridgelab.updates.engine (drivers -> updates)"
    ]
    assert import_cycles(root) == []  # lazy: it breaks no import
    assert reaching_past(root, "drivers", ("bridgelab.updates",)) == [
        "bridgelab.drivers.link -> bridgelab.updates.engine"
    ]


def test_a_cycle_at_import_time_is_found_and_a_type_checking_one_is_not(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "bridgelab/__init__.py": "",
            "drivers/__init__.py": "",
            "drivers/a.py": "from bridgelab.drivers.b import X\n",
            "drivers/b.py": "import bridgelab.drivers.c\n",
            "drivers/c.py": "from bridgelab.drivers import a\n",
            "drivers/d.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from bridgelab.drivers.e import Y\n",
            "drivers/e.py": "from bridgelab.drivers.d import Z\n",
            "updates/__init__.py": "",
        },
    )
    assert import_cycles(root) == [
        ["bridgelab.drivers.a", "bridgelab.drivers.b", "bridgelab.drivers.c"]
    ]
