"""The runtime package ships no server: the local AQT server lives in ``qdispatch_aqt.testing``."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import qdispatch_aqt

PACKAGE = Path(qdispatch_aqt.__file__).parent


def test_the_runtime_package_has_no_server_module() -> None:
    assert importlib.util.find_spec("qdispatch_aqt.server") is None
    assert importlib.util.find_spec("qdispatch_aqt.testing.server") is not None


def test_no_runtime_module_imports_the_testing_package() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "testing" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else ([alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            )
            offenders += [
                f"{path.name}: {name}" for name in names if name.startswith("qdispatch_aqt.testing")
            ]
    assert offenders == []
