"""The sample pages in docs/samples/ are those of the current code: one PNG per document type,
made from exactly the HTML the renderer makes today (``make samples`` refreshes them)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import struct

from tests.conftest import ALL_TYPES, REPO

SAMPLES = REPO / "docs" / "samples"


def test_every_type_has_a_current_sample_page() -> None:
    spec = importlib.util.spec_from_file_location("render_samples",
                                                  REPO / "scripts" / "render_samples.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    index = json.loads((SAMPLES / "index.json").read_text(encoding="utf-8"))
    assert set(index) == set(ALL_TYPES)
    for doc_type, (example, langs, html) in module.sample_pages().items():
        entry = index[doc_type]
        assert entry["example"] == example.name
        assert entry["langs"] == list(langs)
        assert entry["html_sha256"] == hashlib.sha256(html.encode()).hexdigest(), \
            f"docs/samples/{doc_type}.png is stale: run make samples"
        png = (SAMPLES / f"{doc_type}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png[16:24])
        assert (width, height) > (600, 800)  # a whole A4 page at 80 dpi
