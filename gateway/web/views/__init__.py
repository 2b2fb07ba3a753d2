"""What the local API answers, as typed views (pydantic): one model per answer, its OpenAPI
example declared on the model (``json_schema_extra``), so that the documented example is the
model's own. The API model stays apart from the wire message (``protocol``) and the table row
(``store``): a use case's view (``cases.views``) is read into it, field by field.

Routes answer with ``response_model_exclude_unset``: a key a view leaves out (a report's
``collection`` off the collecting node, a draft's document in a list) stays out.

Modules: :mod:`.cases` (cases, persons, tasks, messages of a case), :mod:`.drafts`,
:mod:`.hotline`, :mod:`.accounts` (session and users), :mod:`.node` (messages, partners,
calendars, audit), :mod:`.reports`.
"""

from __future__ import annotations

from typing import Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict

from gateway.protocol.encoding import JsonObject


def example(sample: JsonObject) -> ConfigDict:
    """The configuration of a view with ``sample`` as its OpenAPI example."""
    return ConfigDict(json_schema_extra={"examples": [sample]})


class View(BaseModel):
    """An answer of the local API: read from a use case's view, never from a row. A key the
    view has and the model does not name is refused (``extra="forbid"``), never dropped
    without a word: a field added to a use case's view is added here too."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")


def example_of(model: type[BaseModel]) -> Any:
    """The OpenAPI example of a view: the one it declares, else one made of its parts'
    examples (a list of cases from a case's)."""
    declared = model.model_config.get("json_schema_extra")
    examples = declared.get("examples") if isinstance(declared, dict) else None
    if isinstance(examples, list) and examples:
        return examples[0]
    sample: JsonObject = {}
    for name, field in model.model_fields.items():
        inner, origin = field.annotation, get_origin(field.annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            sample[field.alias or name] = example_of(inner)
        elif origin is list and isinstance(get_args(inner)[0], type) and issubclass(
                get_args(inner)[0], BaseModel):
            sample[field.alias or name] = [example_of(get_args(inner)[0])]
    return sample
