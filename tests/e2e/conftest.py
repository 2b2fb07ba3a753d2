"""End-to-end fixtures: real ``gateway serve`` processes on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.federation import NodeProcess, make_federation


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[dict[str, NodeProcess]]:
    """vn.c02 and kh.ahtjp push to each other; la.atd cannot be reached and pulls."""
    nodes = make_federation(tmp_path, {"vn.c02": "push", "kh.ahtjp": "push", "la.atd": "pull"})
    yield nodes
    for node in nodes.values():
        node.stop()
