"""The ``gateway`` command line (NODE.md). Thin: parse, call one use case, print the answer.

This package is assembled here: the application and its groups are in
:mod:`gateway.cli.apps`, how a command runs (settings, node, one line on failure) in
:mod:`gateway.cli.running`, and the commands in the other modules, one concern each, which
register themselves on the groups when imported below. Nothing imports this module back.
"""

from __future__ import annotations

from gateway.cli import (  # noqa: F401 - imported for the commands they register
    documents,
    keys,
    matching,
    node,
    partners,
    probe,
    proofs,
    reports,
    secret,
    users,
)
from gateway.cli.apps import app


def main() -> None:
    """Console entry point (usage errors exit 2)."""
    app()
