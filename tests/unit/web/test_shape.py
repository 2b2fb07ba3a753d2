"""The web layer's shape (ARCHITECTURE.md): routers name a use case and hand over its
arguments; the use case's transaction, its commit and waking the delivery worker after it
belong to the case work (``CaseWork.run``, ``Node.run``), never to a router."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[3] / "gateway" / "web"

#: What only a unit of work may do.
FORBIDDEN_CALLS = ("transaction", "begin", "connect")
FORBIDDEN_NAMES = ("outbox_signal", "wake")


def _routers() -> list[Path]:
    return sorted(WEB.rglob("*.py"))


def _offences(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
                node.func.attr in FORBIDDEN_CALLS):
            found.append(f"{path.name}:{node.lineno} calls .{node.func.attr}()")
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_NAMES:
            found.append(f"{path.name}:{node.lineno} touches .{node.attr}")
    return found


def test_the_check_sees_an_offence(tmp_path: Path) -> None:
    sample = tmp_path / "router.py"
    sample.write_text("async def f(cw):\n    async with cw.transaction() as conn:\n"
                      "        cw.node.outbox_signal.set()\n")
    assert len(_offences(sample)) == 2


@pytest.mark.parametrize("path", _routers(), ids=lambda p: str(p.relative_to(WEB)))
def test_no_router_opens_a_transaction_or_signals_the_worker(path: Path) -> None:
    assert _offences(path) == []
