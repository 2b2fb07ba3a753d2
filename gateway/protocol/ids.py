"""Identifiers of BX/1: node ids, key ids, message ids (PROTOCOL.md §1-§3)."""

from __future__ import annotations

import re
from typing import Final

NODE_ID: Final = re.compile(r"[a-z]{2}\.[a-z0-9-]{2,40}")
KEY_LABEL: Final = re.compile(r"[A-Za-z0-9._-]{1,40}")
KID: Final = re.compile(r"(?P<node>[a-z]{2}\.[a-z0-9-]{2,40})#(?P<label>[A-Za-z0-9._-]{1,40})")
UUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: ASCII digits only (``\d`` would take any script's: "٢٠٢٦" is no year on the wire).
RFC3339_UTC: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z")


def is_node_id(value: str) -> bool:
    """True for ``<cc>.<unit>``."""
    return NODE_ID.fullmatch(value) is not None


def kid_node(kid: str) -> str | None:
    """The node id a key id names, or None if the key id is not ``<node id>#<label>``."""
    match = KID.fullmatch(kid)
    return match["node"] if match else None


def make_kid(node_id: str, label: str) -> str:
    """``<node id>#<label>``; raises ValueError on a bad node id or label."""
    if not is_node_id(node_id):
        raise ValueError(f"not a node id: {node_id!r}")
    if not KEY_LABEL.fullmatch(label):
        raise ValueError(f"key label must match [A-Za-z0-9._-]{{1,40}}: {label!r}")
    return f"{node_id}#{label}"


def node_country(node_id: str) -> str:
    """The country a node id names (``vn.blo-mocbai`` -> ``VN``)."""
    return node_id.split(".", maxsplit=1)[0].upper()
