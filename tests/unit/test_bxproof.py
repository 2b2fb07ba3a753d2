"""The standalone proof checker (tools/bxproof.py, the same file as gateway/bxproof.py) needs
nothing but the standard library and ``cryptography``: a court or a partner runs it without
the gateway. Its checks are exercised on real bundles in tests/e2e/test_witness.py."""

from __future__ import annotations

import ast
import sys

from tests.conftest import REPO

CHECKER = REPO / "tools" / "bxproof.py"


def test_the_checker_imports_only_the_standard_library_and_cryptography() -> None:
    assert CHECKER.resolve() == (REPO / "gateway" / "bxproof.py").resolve()
    tree = ast.parse(CHECKER.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative import"
            imported.add((node.module or "").split(".")[0])
    outside = {name for name in imported
               if name not in sys.stdlib_module_names and name != "__future__"}
    assert outside == {"cryptography"}
