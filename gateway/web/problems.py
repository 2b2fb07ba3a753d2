"""The one exception handler: any refusal (a :class:`GatewayError` with its code) becomes
``application/problem+json`` for the API, and a page for the console.

The status comes from the error's code through ``protocol.problems.PROBLEMS``; no router
converts an error or decides a status. An error without a code is a fault: it stays the
server error it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from gateway.protocol.errors import GatewayError
from gateway.protocol.problems import (
    PROBLEM_MEDIA_TYPE,
    FieldError,
    InvalidRequestError,
    Problem,
    problem_of,
)

#: Paths answered as an API (problems in JSON); every other path is a console page.
API_PATHS: Final = ("/api", "/bx/", "/metrics")

#: How the console answers a refusal on one of its pages.
PageAnswer = Callable[[Request, GatewayError], Awaitable[Response]]
#: How the console answers an address that names none of its pages.
PageMissing = Callable[[Request], Awaitable[Response]]


def is_api(request: Request) -> bool:
    """The request asks the API (or the partner API), not a console page."""
    return request.url.path.startswith(API_PATHS)


def problem_response(problem: Problem) -> Response:
    """The HTTP answer for a problem, with ``Retry-After`` when rate-limited."""
    headers = {"Retry-After": str(problem.retry_after)} if problem.retry_after else None
    return Response(problem.to_json(), status_code=problem.status,
                    media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def refusal_response(exc: GatewayError) -> Response:
    """The API's answer to a refusal; a fault (an error without a code) is raised again, to
    stay the server error it is."""
    if exc.code is None:
        raise exc
    return problem_response(problem_of(exc))


def unicode_response() -> Response:
    """The answer to text that cannot be stored or signed: JSON may carry unpaired
    surrogates (``\\ud800``)."""
    return problem_response(problem_of(InvalidRequestError(
        "text is not valid Unicode (an unpaired surrogate)")))


def install(app: FastAPI, page_answer: PageAnswer | None = None,
            page_missing: PageMissing | None = None) -> None:
    """Register the handlers on ``app``; ``page_answer``: the console's, for its pages;
    ``page_missing``: the console's page for an address of no page (``/cases/abc``: a path
    value no route takes), never the API's JSON."""

    @app.exception_handler(GatewayError)
    async def _refused(request: Request, exc: GatewayError) -> Response:
        if exc.code is None:  # a fault, not a refusal: the server error it is
            raise exc
        if page_answer is not None and not is_api(request):
            return await page_answer(request, exc)
        return problem_response(problem_of(exc))

    @app.exception_handler(UnicodeError)
    async def _unicode(_request: Request, _exc: UnicodeError) -> Response:
        return unicode_response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        found = list(exc.errors()) or [{"loc": (), "msg": "invalid"}]
        if page_missing is not None and not is_api(request) and any(
                tuple(e.get("loc", ()))[:1] == ("path",) for e in found):
            return await page_missing(request)
        errors = [FieldError(1, 1, ".".join(str(p) for p in e.get("loc", ())),
                             str(e.get("msg"))) for e in found]
        first = errors[0]
        return problem_response(Problem("invalid-request", f"{first.path}: {first.message}",
                                        errors=errors))
