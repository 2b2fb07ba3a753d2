"""What the OpenAPI document says a route answers: its success (the view of ``web.views`` it
answers with, whose example the model declares), and its errors as
``application/problem+json`` (RFC 9457), so that every route is documented the same way."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from gateway.protocol.problems import PROBLEM_MEDIA_TYPE
from gateway.web.views import example_of


class FieldProblem(BaseModel):
    """Where a request was wrong."""

    line: int
    column: int
    path: str
    message: str


class ProblemDetails(BaseModel):
    """An error (RFC 9457): ``type`` is ``urn:bx:problem:<code>``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:bx:problem:invalid-request",
                    "title": "Request not valid",
                    "status": 422,
                    "detail": "body.kind: Input should be 'repatriation', 'verification', "
                    "'investigation' or 'hotline'",
                    "errors": [
                        {
                            "line": 1,
                            "column": 1,
                            "path": "body.kind",
                            "message": "Input should be 'repatriation', ...",
                        }
                    ],
                }
            ]
        }
    )
    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None


_ERRORS: dict[int, str] = {
    401: "No session, or it ended (log in again)",
    403: "The role may not do this (or a handling rule forbids it)",
    404: "Not found, or not visible to the user's unit",
    409: "Not allowed in the current state",
    413: "The body is larger than the route takes (its x-body-limit)",
    422: "The request is not valid: the problem names the field",
    429: "Too many failed attempts from this address: wait for Retry-After",
}


def answers(view: type[BaseModel] | None = None, status: int = 200,
            errors: tuple[int, ...] = (401, 403, 422)) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route: its success, with the example of its ``view`` (the
    route's ``response_model``: :func:`gateway.web.views.example_of`), and its problems."""
    done: dict[str, Any] = {"description": "Done"}
    if view is not None:
        done["content"] = {"application/json": {"example": example_of(view)}}
    out: dict[int | str, dict[str, Any]] = {status: done}
    for code in sorted({*errors, 422}):  # any parameter can be wrong
        out[code] = {
            "description": _ERRORS[code],
            "model": ProblemDetails,
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
    return out


def file_answers(description: str, examples: dict[str, str],
                 errors: tuple[int, ...]) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route that answers a file (a PDF, a page, a zip): its media
    types with an example of each, and its problems."""
    content: dict[str, Any] = {media: {"example": sample} for media, sample in examples.items()}
    content["application/json"] = {"example": {}}  # as FastAPI documents any route
    return {**answers(errors=errors),
            200: {"description": description, "content": content}}
