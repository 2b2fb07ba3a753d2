"""The FastAPI application factory: one node, its delivery worker, its routes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import logging
import secrets
import signal
import threading
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Final, Protocol

import httpx
from fastapi import FastAPI, Header, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.cases import matching
from gateway.cases.effects import install as install_case_hook
from gateway.cases.housekeeping import Housekeeper
from gateway.cases.matcher import Matcher
from gateway.cases.work import open_case_work
from gateway.exchange import witnessing
from gateway.exchange.attach import Attacher
from gateway.exchange.checkpointing import Checkpointer
from gateway.exchange.delivery import DeliveryWorker
from gateway.exchange.keyrefresh import TrustKeeper
from gateway.exchange.pushing import AiohttpPusher
from gateway.exchange.startup import open_node
from gateway.protocol.problems import UnauthenticatedError
from gateway.reports import reminders
from gateway.runtime.node import Node, utc_now
from gateway.settings import Settings, load_settings
from gateway.trust.files import write_atomically
from gateway.web import (
    api_admin,
    api_cases,
    api_drafts,
    api_hotline,
    api_matches,
    api_missing,
    api_reports,
    api_session,
    console,
    local_api,
    partner_api,
    problems,
)
from gateway.web.console import SecurityHeaders
from gateway.web.limits import RequestLimits

log = logging.getLogger("gateway.web")
#: Every router of the local API (``/api``); the permission test walks them all.
LOCAL_API_ROUTERS: Final = (api_session.router, api_cases.router, api_drafts.router,
                            api_hotline.router, api_missing.router, api_matches.router,
                            api_admin.router,
                            api_reports.router, local_api.router)
SHUTDOWN_GRACE_S = 20.0
DELIVERIES_AT_ONCE: Final = 32  # pushes in flight per replica (and connections kept alive)


def _token_file(path: Path) -> str:
    """A random token kept in ``path``, created (mode 0600) on first use."""
    if not path.exists():
        write_atomically(path, secrets.token_urlsafe(32).encode() + b"\n", 0o600)
    return path.read_text(encoding="utf-8").strip()


def api_token(settings: Settings) -> str:
    """The local API token, created (mode 0600) on first use."""
    return _token_file(settings.data_path / "keys" / "api.token")


def metrics_token(settings: Settings) -> str:
    """The metrics scraper's token (``BX_METRICS_TOKEN_FILE``), created on first use."""
    return _token_file(settings.metrics_token_path)


def _reload_on_hangup(node: Node) -> None:
    """Re-read the partner files on SIGHUP (where the loop runs in the main thread)."""
    reloads: set[asyncio.Task[None]] = set()

    async def reload() -> None:
        problems = node.reload_partners()
        await node.audit("operator", "partners.reloaded", None, problems=len(problems),
                         via="SIGHUP")
        log.info("partners reloaded", extra={"count": len(problems)})

    def hangup() -> None:
        task = asyncio.create_task(reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    if threading.current_thread() is threading.main_thread():
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, hangup)


class Loop(Protocol):
    """A loop the node runs beside serving."""

    def stop(self) -> None:
        """Ask it to end."""

    async def run(self) -> None:
        """Run until stopped."""


def _clients() -> tuple[httpx.AsyncClient, list[AiohttpPusher]]:
    """The node's HTTP clients: one for pulls, acknowledgements and key refresh (the daily one
    and an administrator's), and a pusher per push in flight (:data:`DELIVERIES_AT_ONCE`),
    each keeping its connection alive (:mod:`gateway.exchange.pushing`). They share one TLS
    context, made as httpx makes its own (the system's trusted CAs, SSL_CERT_FILE honoured): a
    context each read the CA bundle again, a second of CPU at every start."""
    tls = httpx.create_ssl_context()
    return (httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0), verify=tls),
            [AiohttpPusher(tls) for _ in range(DELIVERIES_AT_ONCE)])


def _tune_gc() -> None:
    """The cyclic garbage collector of a serving process, once the node is open.

    What start-up loaded (schemas, catalogs, SQLAlchemy's tables, the routes) lives as long
    as the process: frozen, no full collection walks it again. The youngest generation is
    collected every 10,000 allocations instead of 700. Measured with bench/ingest.py (same
    run, same wrk): p99 from about 140 ms to about 60 ms and 15 to 25 % more messages a
    second, for about 10 MB more resident memory: full collections of a 200 MB heap were the
    slowest answers. (No full collection first: at that point it found about ten objects to
    free, for 110 ms of every start.)
    """
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


class GatewayApp(FastAPI):
    """The node's app: FastAPI, with partners' pushes (``POST /bx/v1/messages``) answered by
    :func:`partner_api.push` behind the same layers as every route (server errors, limits,
    headers: the console's gzip passes ``/bx/`` through), without the framework's routing
    and dependency solving, which took about a quarter of the serving process's time
    under a burst (bench/ingest.py)."""

    _push: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" \
                and scope["path"] == partner_api.PUSH_PATH and not scope.get("root_path"):
            if self._push is None:
                self._push = ServerErrorMiddleware(RequestLimits(SecurityHeaders(
                    partner_api.push)), debug=self.debug)
            scope["app"] = self
            await self._push(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings, *, clock: Callable[[], datetime] = utc_now,
               run_worker: bool = True, tune_gc: bool = False) -> FastAPI:
    """Build the app; the node is opened in the lifespan, not at import. ``tune_gc``: the
    process serves only this app (``gateway serve``): see :func:`_tune_gc`."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        node = await open_node(settings, clock)
        app.state.node = node
        app.state.api_token = api_token(settings)
        app.state.metrics_token = metrics_token(settings)
        cases = open_case_work(node)
        # the deadline calendars load beside serving, not before it: a node answers at once
        app.state.warming = asyncio.create_task(asyncio.to_thread(cases.warm))
        app.state.cases = cases
        install_case_hook(cases)
        await matching.ensure_index(cases)  # a database from before matching's index
        client, pushing = _clients()
        app.state.client = client  # an administrator's key refresh too
        worker = DeliveryWorker(node, client, pushers=pushing)
        app.state.worker = worker
        # the loops beside the worker: each with stop() and run(), stopped in this order
        loops: list[Loop] = [Housekeeper(cases, [reminders.remind]), TrustKeeper(node, client),
                 Checkpointer(node), Matcher(cases)] if run_worker else []
        attacher = Attacher(node)
        attaching = asyncio.create_task(attacher.run())  # part of accepting: always runs
        task = asyncio.create_task(worker.run()) if run_worker else None
        running = [asyncio.create_task(loop.run()) for loop in loops]
        _reload_on_hangup(node)
        if tune_gc:
            _tune_gc()
        log.info("node started", extra={"node": node.node_id,
                                        "url": settings.public_url})
        try:
            yield
        finally:
            worker.stop()
            attacher.stop()
            for loop in loops:
                loop.stop()
            for started in running:
                await started
            if task is not None:
                try:
                    await asyncio.wait_for(task, SHUTDOWN_GRACE_S)
                except TimeoutError:
                    log.warning("deliveries still in flight at shutdown stay queued")
                with contextlib.suppress(Exception):  # else they lapse on their own
                    await worker.release()
            await attaching
            await client.aclose()
            for pusher in pushing:
                await pusher.close()
            await node.close()

    app = GatewayApp(title="Border Exchange Gateway", lifespan=lifespan,
                  openapi_url="/api/openapi.json", docs_url=None, redoc_url=None)
    problems.install(app, console.refusal_page, console.missing_page)
    app.include_router(partner_api.router)
    for router in LOCAL_API_ROUTERS:
        app.include_router(router)
    console.install(app)
    app.add_middleware(RequestLimits)  # outermost: before anything reads a byte of the body

    _install_metrics(app)
    return app


def _install_metrics(app: FastAPI) -> None:
    """``/metrics`` for the configured scraper."""

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request,
                      authorization: Annotated[str | None, Header()] = None) -> Response:
        """Prometheus metrics, for the configured scraper only: they name every partner and
        count its messages (docs/operations.md)."""
        given = (authorization or "").removeprefix("Bearer ").strip().encode()
        if not hmac.compare_digest(given, request.app.state.metrics_token.encode()):
            raise UnauthenticatedError("metrics need the scraper's token "
                                       "(BX_METRICS_TOKEN_FILE) as a bearer token")
        node: Node = request.app.state.node
        forks = await witnessing.fork_counts(node)  # from the database: every replica agrees
        node.metrics.witness_forks.clear()
        for origin, count in forks.items():
            node.metrics.witness_forks.labels(origin).set(count)
        return Response(generate_latest(node.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def app_from_environment() -> FastAPI:
    """The app of ``gateway serve``: settings from ``BX_*`` and ``.env``."""
    return create_app(load_settings(), tune_gc=True)
