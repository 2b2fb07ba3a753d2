"""Witnessing (PROTOCOL.md §4.8) with a partner that cannot be reached: ``la.atd`` pulls its
mail, so ``vn.c02``'s checkpoint waits in its mailbox, is pulled, cosigned, and the answer
comes back like any message. (Offline bundles: tests/e2e/test_offline.py.)"""

from __future__ import annotations

import pytest

from tests.e2e.federation import NodeProcess, wait_for

pytestmark = pytest.mark.e2e


def test_a_pulling_partner_cosigns_the_checkpoint_it_pulled(
        federation: dict[str, NodeProcess]) -> None:
    c02 = federation["vn.c02"]
    c02.cli("audit", "checkpoint", "--new")

    def cosigners() -> str:
        return c02.cli("audit", "checkpoint").stderr

    wait_for(lambda: "cosigned by la.atd#" in cosigners(), "la.atd to pull, cosign and answer")
    wait_for(lambda: "cosigned by kh.ahtjp#" in cosigners(),  # reached by push, too
             "kh.ahtjp to cosign")
