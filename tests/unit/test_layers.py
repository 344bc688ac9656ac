"""The import direction of the layers (docs/architecture.md): a module imports
only from its own layer or below, and nothing in the daemon imports gd2.testing."""

from __future__ import annotations

import ast
from pathlib import Path

import gd2

PACKAGE = Path(gd2.__file__).parent

LAYERS: dict[str, int] = {
    "gd2.errors": 0, "gd2.api": 0, "gd2.model": 0, "gd2.config": 0, "gd2.xdr": 0,
    "gd2.volgen": 0,
    "gd2.store": 1, "gd2.brickfs": 1,
    "gd2.xlators": 1, "gd2.peer": 1, "gd2.systemd": 1,
    "gd2.hooks": 1, "gd2.events": 1,
    "gd2.commands": 2, "gd2.txn": 2, "gd2.daemons": 2, "gd2.plugins": 2,
    "gd2.daemon": 3, "gd2.rest": 3, "gd2.cli": 3,
    "gd2.sunrpc": 3,
    "gd2.testing": 4,
}


def _layer(module: str) -> int | None:
    for prefix, layer in sorted(LAYERS.items(), key=lambda item: -len(item[0])):
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return [n for n in names if n.startswith("gd2.")]


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append((name, path))
    return found


def test_every_module_has_a_layer() -> None:
    orphans = [name for name, _ in _modules() if name != "gd2" and _layer(name) is None]
    assert orphans == [], f"add these packages to LAYERS and docs/architecture.md: {orphans}"


def test_imports_point_down() -> None:
    violations = []
    for name, path in _modules():
        own = _layer(name)
        if own is None:
            continue
        for imported in _imports(path):
            target = _layer(imported)
            if target is not None and target > own:
                violations.append(f"{name} (L{own}) imports {imported} (L{target})")
    assert violations == []


def test_l0_is_pure() -> None:
    forbidden = {"trio", "socket", "subprocess", "etcd3", "grpc", "fastapi", "hypercorn"}
    violations = []
    for name, path in _modules():
        if _layer(name) != 0:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            violations += [f"{name} imports {m}" for m in mods if m.split(".")[0] in forbidden]
    assert violations == []


def test_the_checker_catches_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from gd2.rest.app import create_api\nimport gd2.commands.volumes\n")
    assert [_layer(m) for m in _imports(bad)] == [3, 3, 2]
