"""End-to-end fixtures: real ``gateway serve`` processes on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api as playwright

from tests.e2e.federation import NodeProcess, make_federation

CHROMIUM = "/usr/bin/chromium"

# What the page shows after a submit is awaited, never sampled at once: CI's two cores are
# shared, and a form's answer can take seconds there.
playwright.expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, NodeProcess]]:
    """vn.c02 and kh.ahtjp push to each other; la.atd cannot be reached and pulls, and signs
    with ES256 (its checkpoints with its separate Ed25519 key). Built once per module: its
    tests count what they add, and one that changes a node's trust (a revocation) comes last
    in its module."""
    nodes = make_federation(tmp_path_factory.mktemp("federation"),
                            {"vn.c02": "push", "kh.ahtjp": "push", "la.atd": "pull"},
                            algs={"la.atd": "ES256"})
    yield nodes
    for node in nodes.values():
        node.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, once per module."""
    if not Path(CHROMIUM).exists():
        pytest.fail("make test installs Debian's chromium")
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=["--no-sandbox"])
        yield launched
        launched.close()
