"""The local API's routes: the caller is known, and allowed, before a byte of the body is read.

FastAPI reads a route's body and parses its JSON before it solves the route's dependencies,
the session among them: a caller nobody knows could make the node read tens of MiB and parse
them on its event loop, and every other request (``/health``, the console, partners' pushes)
waited seconds. Every route of the local API is a :class:`LocalApiRoute` (its routers say
``route_class=LocalApiRoute``; a test walks them all), which answers in this order and stops
at the first refusal:

1. a declared body larger than the route's own limit: 413, nothing read;
2. the route's permission (:func:`gateway.web.auth.permit`: the session or the API token,
   then the role): 401 or 403, nothing read. A public route (logging in) skips this step,
   and its limit is the small one of a login;
3. the body, read within the route's limit and the rules of :mod:`gateway.web.limits` (an
   idle gap, a slow rate): 413 or 408;
4. a JSON body larger than :data:`OFF_LOOP_BYTES`, parsed on a worker thread: first its
   values counted (at most :data:`MAX_JSON_VALUES`, else 413), then parsed with a hook
   called after each object. Python's parser holds the interpreter for as long as it runs,
   on a worker thread as on the loop (40 MiB of ``[[],[],...]`` is 8 s of it): the count
   bounds the work, and the hook lets the loop in between objects (a 72 MiB draft holds it
   for some 40 ms at a time instead of 100).

A route takes :data:`gateway.web.limits.API_BODY` unless it says otherwise with
``openapi_extra=body_up_to(...)``; the limit is then also in the OpenAPI document. A route
marked ``openapi_extra=strict_json()`` (:mod:`gateway.web.jsonbody`) has its JSON body read
strictly in step 4, whatever its size: a member given twice or a value nested too deep is
refused with its path (422) before the route's model sees the body.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any, Final

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.background import BackgroundTask

from gateway.protocol.encoding import JsonObject, JsonValue
from gateway.protocol.errors import GatewayError
from gateway.protocol.problems import TooLargeError, problem_of
from gateway.web import limits
from gateway.web.jsonbody import STRICT_KEY, parse_strict
from gateway.web.problems import problem_response

#: The OpenAPI extension that carries a route's body limit (bytes).
LIMIT_KEY: Final = "x-body-limit"
#: A JSON body larger than this is parsed on a worker thread, not on the event loop.
OFF_LOOP_BYTES: Final = 64 * 1024
#: The most values a large JSON body may hold, counted as its brackets, braces and commas
#: (those within strings too): a draft with its document and ten attachments holds a few
#: thousand.
MAX_JSON_VALUES: Final = 200_000
_SLICE: Final = 1024 * 1024
_UNPARSED: Final = object()

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
Check = Callable[..., Any]


def body_up_to(limit: int) -> JsonObject:
    """The ``openapi_extra`` of a route whose body may be up to ``limit`` bytes."""
    return {LIMIT_KEY: limit}


def _object(pairs: list[tuple[str, JsonValue]]) -> JsonObject:
    """An object of a large body (as ``json.loads`` makes it): Python code between objects,
    where the interpreter may hand over to the event loop's thread."""
    return dict(pairs)


def count_values(body: bytes) -> None:
    """:class:`TooLargeError` if a large JSON body holds too many values (see the module)."""
    values = 0
    for start in range(0, len(body), _SLICE):  # a slice at a time: the loop gets its turns
        end = start + _SLICE
        values += body.count(b",", start, end) + body.count(b"[", start, end) \
            + body.count(b"{", start, end)
        if values > MAX_JSON_VALUES:
            raise TooLargeError("a JSON body of more than {count} values",
                                count=MAX_JSON_VALUES)


def parse_large(body: bytes) -> Any:
    """A large JSON body, parsed as ``json.loads`` does, on a worker thread (see the module);
    :class:`TooLargeError` if it holds too many values."""
    count_values(body)
    return json.loads(body, object_pairs_hook=_object)


def parse_large_strictly(body: bytes) -> Any:
    """A large JSON body of a strict route, on a worker thread: its values counted, then read
    by :func:`gateway.web.jsonbody.parse_strict`."""
    count_values(body)
    return parse_strict(body)


def _is_json(request: Request) -> bool:
    """The body is JSON by its ``Content-Type`` (as FastAPI reads it)."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                            and media.endswith("+json"))


class ReadRequest(Request):
    """The request as the route's own handler sees it: its body already read (within the
    limits), and a large JSON body already parsed off the event loop (or its error kept)."""

    def __init__(self, request: Request, body: bytes, parsed: Any = _UNPARSED,
                 error: Exception | None = None) -> None:
        super().__init__(request.scope, request.receive)
        self._read = body
        self._parsed = parsed
        self._error = error

    async def body(self) -> bytes:
        return self._read

    async def json(self) -> Any:
        if self._error is not None:
            raise self._error
        if self._parsed is _UNPARSED:
            self._parsed = json.loads(self._read)  # small: at once
        return self._parsed


class LocalApiRoute(APIRoute):
    """A route of the local API (see the module)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.body_limit = int((self.openapi_extra or {}).get(LIMIT_KEY, limits.API_BODY))
        #: Whether the JSON body is read strictly (:mod:`gateway.web.jsonbody`).
        self.strict_json = bool((self.openapi_extra or {}).get(STRICT_KEY))
        marked: list[Check] = [d.call for d in self.dependant.dependencies
                               if d.call is not None and hasattr(d.call, "action")]
        if not marked:  # fail closed: a route nobody decided about is a route nobody may call
            raise RuntimeError(f"{path}: a local API route names its permission "
                               "(permit) or says it is public")
        #: The permission checks, run before the body is read (none: public).
        self.checks = [check for check in marked if getattr(check, "action", None) is not None]

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        takes_body = self.body_field is not None

        async def guarded(request: Request) -> Response:
            declared = request.headers.get("content-length", "")
            if takes_body and declared.isascii() and declared.isdigit() \
                    and int(declared) > self.body_limit:
                return _refused(request, TooLargeError(
                    "body of {size} bytes; the limit is {limit}", size=int(declared),
                    limit=self.body_limit))
            for check in self.checks:
                await check(request)  # a refusal is raised: 401 or 403
            if not takes_body:
                return await handler(request)
            try:
                body = await limits.read_body(request.receive, self.body_limit)
            except GatewayError as refused:  # too large, too slow, or gone
                return _refused(request, refused)
            if self.strict_json and body and (
                    _is_json(request) or "content-type" not in request.headers):
                return await self._strictly(request, handler, body)
            if len(body) <= OFF_LOOP_BYTES or not _is_json(request):
                return await handler(ReadRequest(request, body))
            try:
                parsed = await asyncio.to_thread(parse_large, body)
            except TooLargeError as refused:
                return _refused(request, refused)
            except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, too deep:
                # the route's own answer, as for a small body
                return await handler(ReadRequest(request, body, error=exc))
            return await handler(ReadRequest(request, body, parsed))

        return guarded

    @staticmethod
    async def _strictly(request: Request, handler: Handler, body: bytes) -> Response:
        """A strict route's JSON body, parsed (off the event loop when large), or its
        refusal naming the path of what is wrong."""
        try:
            parsed = parse_strict(body) if len(body) <= OFF_LOOP_BYTES else (
                await asyncio.to_thread(parse_large_strictly, body))
        except TooLargeError as refused:
            return _refused(request, refused)
        except GatewayError as invalid:
            return problem_response(problem_of(invalid))
        return await handler(ReadRequest(request, body, parsed))


def _refused(request: Request, refusal: GatewayError) -> Response:
    """The answer to a body refused by its size or its pace; the connection is closed (the
    rest of the body is never read) and the refusal audited once it is answered."""
    problem = problem_of(refusal)
    response = problem_response(problem)
    response.headers["Connection"] = "close"
    response.background = BackgroundTask(limits.audit_refusal, request.scope, problem.code)
    return response
