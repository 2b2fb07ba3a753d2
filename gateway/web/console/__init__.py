"""The console: server-rendered pages for BLO officers, C02 investigators, hotline operators,
supervisors, administrators and auditors (no build step, no CDN: every asset is served here).

Pages call the same case services as the local API, with the same permission matrix. Every
form carries the session's CSRF token; the session lives in an HttpOnly, SameSite=Strict
cookie; the Content-Security-Policy allows nothing but this node. Personal data never goes in a
URL: searches are posted.

Modules: :mod:`.pages` (rendering and sessions), :mod:`.session` (log in and out, home,
notices), :mod:`.cases`, :mod:`.compose`, :mod:`.release`, :mod:`.desks` (hotline, the
investigator's desk, partners, audit), :mod:`.missing` (missing-person reports),
:mod:`.reports`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware

from gateway.web.console import (
    cases,
    compose,
    desks,
    matches,
    missing,
    release,
    reports,
    session,
)
from gateway.web.console.pages import (
    TEMPLATES,
    Redirect,
    missing_page,
    refusal_page,
)

__all__ = ["install", "missing_page", "refusal_page"]


def install(app: FastAPI) -> None:
    """Mount the console, its error pages and its headers on the app (its answer to a
    refusal, :func:`refusal_page`, is handed to ``web.problems.install``)."""
    from fastapi.staticfiles import StaticFiles  # noqa: PLC0415

    app.mount("/static", StaticFiles(directory=TEMPLATES.parent / "static"), name="static")
    for module in (session, cases, compose, release, desks, missing, matches, reports):
        app.include_router(module.router)

    async def _redirect(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Redirect)
        return RedirectResponse(exc.to, status_code=303)

    async def _http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404 and not request.url.path.startswith(("/api", "/bx/")):
            return await missing_page(request)
        from fastapi.exception_handlers import http_exception_handler  # noqa: PLC0415

        return await http_exception_handler(request, exc)

    app.add_exception_handler(Redirect, _redirect)
    app.add_exception_handler(HTTPException, _http)
    app.add_middleware(SecurityHeaders)
    # A 45 KB form over a border link: compress pages (the cookie is SameSite=Strict, so no
    # other site can make the browser fetch a page with a secret in it: no BREACH oracle).
    app.add_middleware(PagesGzip)


_CSP = (b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'; "
        b"object-src 'none'")


class SecurityHeaders:
    """The console's security headers; every answer, the API's too, is ``nosniff``.

    Plain ASGI (it only adds headers to the response's start): Starlette's
    ``BaseHTTPMiddleware`` cost the partner API a third of its speed (bench/ingest.py).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        api = path.startswith(("/api", "/bx/"))

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"x-content-type-options"]
                headers.append((b"x-content-type-options", b"nosniff"))
                if not api:
                    if not any(k.lower() == b"content-security-policy" for k, _ in headers):
                        headers.append((b"content-security-policy", _CSP))
                    # same-origin, not no-referrer: with no-referrer a browser posts "Origin:
                    # null", and the login form's origin check (login CSRF) needs the real
                    # one; nothing leaks to other sites.
                    headers.append((b"referrer-policy", b"same-origin"))
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"public, max-age=86400"
                                    if path.startswith("/static/") else b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class PagesGzip:
    """gzip for the console's pages and files; the partner API's small signed answers pass
    straight through (compressing them costs more than it saves)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=1024)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith("/bx/"):
            await self.app(scope, receive, send)
        else:
            await self.gzip(scope, receive, send)
