"""Red team of issue 22: a compose form's keys are the officer's to choose (every posted
input, ``file:<key>`` inputs included, goes through ``forms.document_from_form``).

FAILS on the code as red-teamed: the finding of the report. Kept small on purpose (an index
of 200,000): the cost is linear in the index, so ``person.relative.100000000.relation`` (a
40-byte input) holds the node's event loop for about ten minutes and needs gigabytes.
"""

from __future__ import annotations

import tracemalloc

from gateway.documents.convert import DocumentForms
from gateway.documents.registry import SchemaRegistry
from gateway.web import forms


def test_an_index_in_a_form_key_is_bounded_by_the_schema(registry: SchemaRegistry) -> None:
    model = DocumentForms(registry).model("verification-request")
    assert model.child("person") is not None
    relative = model.child("person").child("relative")  # type: ignore[union-attr]
    assert relative is not None
    assert relative.max_occurs == 10
    tracemalloc.start()
    try:
        document = forms.document_from_form(model, {
            "person.relative.200000.relation": "mother"})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(document.get("person", {}).get("relative", [])) <= 10
    # FAILS: ~14 MB and ~1 s for one input (200,001 empty entries built, then dropped)
    assert peak < 1_000_000, f"{peak / 1e6:.1f} MB for one form input"
