"""The layers' dependencies point one way: web -> server -> formats, offline -> formats.

Every import in every module is read, at the top or inside a function, so a layer cannot reach
upward even lazily. The offline tool's run-time closure is proved separately, in a virtual
environment holding only PyNaCl (test_offline_closure.py).
"""

import ast
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "intake"
WEB_ONLY = {"flask", "flask_babel", "flask_wtf", "jinja2", "markupsafe", "werkzeug", "wtforms"}
# What each layer may import of intake's own (the root package is the composition root: its
# create_app builds the web app, and `intake serve` asks it for one).
ALLOWED = {
    "formats": {"intake.formats"},
    "server": {"intake", "intake.formats", "intake.server"},
    "web": {"intake", "intake.formats", "intake.server", "intake.web"},
    "offline": {"intake.formats", "intake.offline"},
}
THIRD_PARTY = {  # and of other people's, beyond the standard library
    "formats": {"nacl"},
    "server": {"nacl", "gunicorn", "babel", "psycopg", "psycopg_pool"},
    "web": {"nacl", "babel", *WEB_ONLY},
    "offline": {"nacl"},
}


def imports(path: Path):
    """Every module `path` imports, as absolute dotted names, with the line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield module, node.lineno
            for alias in node.names:  # `from intake.formats import envelope` imports a module
                yield f"{module}.{alias.name}", node.lineno


def owner(module: str) -> str:
    """The intake package a module belongs to, or the top-level name of someone else's."""
    parts = module.split(".")
    if parts[0] != "intake":
        return parts[0]
    return ".".join(parts[:2]) if len(parts) > 1 and (PACKAGE / parts[1]).is_dir() else "intake"


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_imports_point_downward(layer):
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, layer
    wrong = []
    for path in files:
        for module, line in imports(path):
            top = module.split(".")[0]
            if top == "intake":
                if owner(module) not in ALLOWED[layer]:
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
            elif top not in sys.stdlib_module_names and top not in THIRD_PARTY[layer] and top != "__future__":
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert wrong == []


def test_the_check_sees_an_upward_import(tmp_path):
    """The test above would catch a formats module importing the server, even inside a function."""
    bad = PACKAGE / "formats" / "_upward_probe.py"
    bad.write_text("def f():\n    from intake.server import settings\n    import flask\n")
    try:
        found = [module for module, _ in imports(bad)]
        assert "intake.server.settings" in found and "flask" in found
        assert owner("intake.server.settings") not in ALLOWED["formats"]
    finally:
        bad.unlink()


def test_every_module_is_in_a_layer():
    """Nothing of intake's floats outside the four layers but the package's entry point."""
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py"]
