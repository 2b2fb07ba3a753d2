"""Strict JSON bodies for the local API routes that ask for them (``openapi_extra=
strict_json()``): a body that two readers could read two ways is refused before any model
sees it, with the path of what is wrong, as a model's own refusal names its field.

Python's parser keeps the last of two equal member names (``{"sex": "female", "sex": "male"}``
is quietly a boy) and turns a body nested deeper than its recursion limit into a server error.
Here a duplicated member, a value nested deeper than
:data:`gateway.protocol.encoding.MAX_JSON_DEPTH`, ``NaN`` or ``Infinity``, text that is not
UTF-8 or not JSON are each a 422 (``invalid-request``) whose ``errors`` name the path
(``body.person.sex``), and nothing is stored.
"""

from __future__ import annotations

import json
from typing import Any, Final

from gateway.protocol.encoding import MAX_JSON_DEPTH, JsonObject, JsonValue
from gateway.protocol.problems import InvalidRequestError

#: The OpenAPI extension that marks a route whose JSON body is read strictly.
STRICT_KEY: Final = "x-strict-json"


def strict_json() -> JsonObject:
    """The ``openapi_extra`` of a route whose body is read by :func:`parse_strict`."""
    return {STRICT_KEY: True}


class _Twice(dict[str, JsonValue]):
    """An object in which a member name came twice (the first such name kept)."""

    twice: str = ""


def _pairs(pairs: list[tuple[str, JsonValue]]) -> JsonObject:
    found: JsonObject = {}
    twice = None
    for key, value in pairs:
        if key in found and twice is None:
            twice = key
        found[key] = value
    if twice is None:
        return found
    marked = _Twice(found)
    marked.twice = twice
    return marked


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _refused(path: str, problem: str) -> InvalidRequestError:
    error = InvalidRequestError("{path}: {problem}", path=path, problem=problem)
    error.field = path
    return error


def parse_strict(body: bytes) -> Any:
    """The body's JSON value, or an :class:`InvalidRequestError` naming the path of what is
    wrong (see the module)."""
    try:
        value = json.loads(body.decode("utf-8"), object_pairs_hook=_pairs,
                           parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise _refused("body", "not UTF-8") from exc
    except RecursionError as exc:
        raise _refused("body", f"JSON nests deeper than {MAX_JSON_DEPTH} levels") from exc
    except ValueError as exc:  # JSONDecodeError, NaN or Infinity
        raise _refused("body", f"not JSON ({exc})") from exc
    stack: list[tuple[Any, str, int]] = [(value, "body", 1)]
    while stack:  # iteratively: a deep body must not cost a deep recursion here either
        item, path, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.items()
        elif isinstance(item, list):
            children = enumerate(item)
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise _refused(path, f"JSON nests deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, _Twice):
            raise _refused(f"{path}.{item.twice}", "a member given twice")
        stack.extend((child, f"{path}.{key}", depth + 1) for key, child in children)
    return value
