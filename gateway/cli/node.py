"""``gateway serve``, ``send``, ``messages``, ``bundle``, ``audit`` and ``backup``."""

from __future__ import annotations

import mimetypes
import sqlite3
from collections.abc import Callable, Coroutine
from enum import StrEnum
from gettext import gettext as _
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from gateway.cli.apps import app, audit_app, bundle_app, messages_app
from gateway.cli.running import (
    fail,
    migrate_or_exit,
    settings_or_exit,
    when,
    with_database,
    with_node,
)

if TYPE_CHECKING:  # the commands import what they use when they run: a fast --help
    import uvicorn

    from gateway.exchange.bundles import ImportReport
    from gateway.exchange.bundles import Progress as BundleProgress
    from gateway.protocol.problems import Problem
    from gateway.runtime.node import Node

T = TypeVar("T")


class StatusChoice(StrEnum):
    """Delivery states a listing can be narrowed to (anything else is a usage error)."""

    QUEUED = "queued"
    WAITING = "waiting"
    DELIVERED = "delivered"
    DEAD = "dead"
    ACCEPTED = "accepted"


@app.command("demo",
    help=_("A local federation on loopback playing a scripted repatriation; serves until Ctrl-C."))
def demo(
    directory: Annotated[Path, typer.Option("--dir", help=_("Where the demo nodes live."))] = Path(
        "var/demo"),
    base_port: Annotated[int, typer.Option(min=1024, max=65000,
                                           help=_("Port of the first node."))] = 8601,
) -> None:
    """A local federation on loopback playing a scripted repatriation; serves until Ctrl-C."""
    from gateway.demo import DemoError, run_demo

    try:
        run_demo(directory, base_port, typer.echo)
    except DemoError as exc:
        fail(exc)


@app.command("serve", help=_("Run the node: partner API, local API, console and delivery worker."))
def serve() -> None:
    """Run the node: partner API, local API, console and delivery worker."""
    import uvicorn

    from gateway.logs import configure_logging
    from gateway.runtime.node import NodeError, load_parts

    settings = settings_or_exit()
    configure_logging(settings.node_id)
    try:
        load_parts(settings)
    except NodeError as exc:
        fail(exc)
    migrate_or_exit(settings)
    # By name: nothing imports the web layer (ARCHITECTURE.md); uvicorn loads it.
    # Connections are capped (beyond, 503) and idle keep-alives closed; slow headers are the
    # front proxy's to cut (docs/operations.md), bodies are cut by gateway.web.limits.
    # X-Forwarded-For and -Proto are believed from BX_TRUSTED_PROXIES only (uvicorn's own
    # default believes any caller on loopback): the client address is the login throttle's.
    config = uvicorn.Config(
        "gateway.web.app:app_from_environment", factory=True, host=settings.host,
        port=settings.port, log_config=None, access_log=False, timeout_graceful_shutdown=25,
        limit_concurrency=1000, timeout_keep_alive=5, h11_max_incomplete_event_size=64 * 1024,
        proxy_headers=bool(settings.proxies), forwarded_allow_ips=settings.proxies)
    server = _draining_server(settings.stop_drain_s)(config)
    server.run()
    if not server.started:
        raise typer.Exit(3)  # uvicorn's own code for a server that could not start


def _draining_server(drain_s: float) -> type[uvicorn.Server]:
    """uvicorn's server, but the first ``SIGTERM`` only makes the health check answer 503
    ``stopping`` (:mod:`gateway.runtime.stopping`) for ``drain_s`` seconds; then it stops as
    uvicorn does on that ``SIGTERM`` (what is in flight finishes, the exit status says
    terminated). Another ``SIGTERM``, or ``SIGINT``, during the drain ends it at once: the
    same graceful stop. After that, uvicorn's own rules (a ``SIGINT`` forces the exit)."""
    import logging
    import signal
    import threading
    from types import FrameType

    import uvicorn

    from gateway.runtime import stopping

    class DrainingServer(uvicorn.Server):
        _drain: threading.Timer | None = None

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if self._drain is not None:  # draining: stop now, as the SIGTERM asked
                self._end_drain()
                return
            if sig != signal.SIGTERM or drain_s <= 0 or stopping.stopping():
                super().handle_exit(sig, frame)
                return
            stopping.begin()
            self._drain = threading.Timer(drain_s, self._end_drain)
            self._drain.daemon = True
            self._drain.start()  # before anything that could fail in a signal handler
            logging.getLogger("gateway").info(
                "stopping: health answers 503 for %.1f s before the node closes", drain_s)

        def _end_drain(self) -> None:
            drain, self._drain = self._drain, None
            if drain is not None:
                drain.cancel()
                super().handle_exit(signal.SIGTERM, None)

    return DrainingServer


def _print_problem(problem: Problem) -> None:
    typer.echo(f"gateway: {problem.code}: {problem.detail}", err=True)
    for error in problem.errors[1:10]:
        typer.echo(f"  line {error.line}, {error.path}: {error.message}", err=True)


@app.command("send", help=_("Sign a document and queue it for delivery; prints the message id."))
def send(
    document: Annotated[Path, typer.Argument(metavar="FILE.xml", exists=True, dir_okay=False,
                                             help=_("The document to send."))],
    to: Annotated[str, typer.Option("--to", help=_("Recipient node id."))],
    doc_type: Annotated[str, typer.Option("--type", help=_("Document type."))],
    version: Annotated[str, typer.Option(help=_("Document schema version."))] = "1.0",
    conversation: Annotated[str | None, typer.Option(help=_("Conversation id."))] = None,
    ref: Annotated[str | None, typer.Option(help=_("Id of the message answered."))] = None,
    priority: Annotated[str, typer.Option(help=_("routine, urgent or immediate."))] = "routine",
    handling: Annotated[str, typer.Option(help=_("H0, H1, H2 or H3."))] = "H0",
    lang: Annotated[str, typer.Option(help=_("Language of the free text."))] = "vi",
    attach: Annotated[list[Path] | None, typer.Option(
        exists=True, dir_okay=False, help=_("A file to attach (JPEG, PNG or PDF).")),
    ] = None,
) -> None:
    """Sign a document and queue it for delivery; prints the message id."""
    from gateway.exchange.outbound import OutboundError, send_message
    from gateway.protocol.envelope import Attachment, MessageDraft
    from gateway.protocol.problems import Problem

    files = []
    for path in attach or []:
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        files.append(Attachment(path.name, media_type, path.read_bytes()))
    try:
        draft = MessageDraft(type=doc_type, version=version, to=to, conversation=conversation,
                             ref=ref, priority=priority, handling=handling, lang=lang)  # type: ignore[arg-type]
    except ValueError as exc:
        fail(exc)
    content = document.read_bytes()

    async def use(node: Node) -> str:
        return await send_message(node, draft, content, files)

    try:
        message_id = with_node(settings_or_exit(), use)
    except Problem as problem:
        _print_problem(problem)
        raise typer.Exit(1) from problem
    except (OutboundError, ValueError) as exc:
        fail(exc)
    typer.echo(message_id)


@messages_app.callback(invoke_without_command=True,
    help=_("List messages and their delivery state (newest first)."))
def messages(
    ctx: typer.Context,
    status: Annotated[StatusChoice | None, typer.Option(
        help=_("Only messages in this state."))] = None,
    partner: Annotated[str | None, typer.Option(help=_("Only this partner."))] = None,
    test: Annotated[bool, typer.Option("--test", help=_(
        "Only the test messages of conformance probes (bx.test), filed apart from "
        "casework."))] = False,
) -> None:
    """List messages and their delivery state (newest first)."""
    if ctx.invoked_subcommand is not None:
        return
    from gateway.exchange import outbox

    marker = _("TEST")  # a conformance probe's message, filed apart (PROTOCOL.md §3.1)

    async def use(node: Node) -> list[str]:
        rows = await outbox.list_messages(node, status.value if status else None, partner,
                                          True if test else None)
        return [f"{r.id}  {when(r.created)}  {r.direction:3}  {r.sender} -> "
                f"{r.recipient}  {r.doc_type}  {r.state}  attempts={r.attempts}"
                + (f"  {marker}" if r.test else "")
                + (f"  error={r.error}" if r.error else "") for r in rows]

    for line in with_node(settings_or_exit(), use):
        typer.echo(line)


@messages_app.command("retry", help=_("Re-queue a dead-lettered message with a fresh deadline."))
def messages_retry(message_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Re-queue a dead-lettered message with a fresh deadline."""
    from gateway.exchange.outbound import OutboundError, retry_dead_letter

    async def use(node: Node) -> None:
        await retry_dead_letter(node, message_id)

    try:
        with_node(settings_or_exit(), use)
    except OutboundError as exc:
        fail(exc)
    typer.echo(_("re-queued {id}").format(id=message_id))


@messages_app.command("drain",
    help=_("Deliver everything that is due now, then stop (for scripts and offline sites)."))
def messages_drain() -> None:
    """Deliver everything that is due now, then stop (for scripts and offline sites)."""
    import httpx

    from gateway.exchange.delivery import DeliveryWorker

    async def use(node: Node) -> int:
        async with httpx.AsyncClient(timeout=30) as client:
            worker = DeliveryWorker(node, client)
            tried = await worker.drain()
            await worker.poll_partners()
            return tried

    typer.echo(_("{count} delivery attempts").format(count=with_node(settings_or_exit(), use)))


def _with_progress(label: str, work: Callable[[Node, BundleProgress], Coroutine[Any, Any, T]]
                   ) -> T:
    """Run a bundle job on the node with a progress bar; a refused bundle is one line."""
    from rich.progress import Progress

    from gateway.exchange.bundles import BundleError

    progress = Progress(transient=False)
    task = progress.add_task(label, total=None)

    async def use(node: Node) -> T:
        with progress:
            return await work(node, lambda done, total: progress.update(
                task, completed=done, total=total))

    try:
        return with_node(settings_or_exit(), use)
    except BundleError as exc:
        fail(exc)


@bundle_app.command("export", help=_("Write every undelivered message for a partner to a bundle."))
def bundle_export(
    to: Annotated[str, typer.Option("--to", help=_("The partner the bundle is for."))],
    target: Annotated[Path, typer.Argument(metavar="FILE.zip")],
) -> None:
    """Write every undelivered message for a partner to a bundle."""
    if target.exists():
        fail(_("{path} exists; choose another file name").format(path=target))
    from gateway.exchange.bundles import export_bundle

    count = _with_progress(_("exporting"), lambda node, step: export_bundle(
        node, to, target, step))
    typer.echo(_("{count} messages written to {path}").format(count=count, path=target))


@bundle_app.command("import",
    help=_("Import a bundle (messages, or a reply of receipts); report each refused message."))
def bundle_import(
    source: Annotated[Path, typer.Argument(metavar="FILE.zip", exists=True, dir_okay=False)],
    receipts: Annotated[Path | None, typer.Option(
        help=_("Where to write the reply bundle of receipts."))] = None,
) -> None:
    """Import a bundle (messages, or a reply of receipts); report each refused message."""
    if receipts is not None and receipts.exists():
        fail(_("{path} exists; choose another file name").format(path=receipts))
    from gateway.exchange.attach import attach_waiting
    from gateway.exchange.bundles import import_bundle

    async def imported(node: Node, step: BundleProgress) -> ImportReport:
        report = await import_bundle(node, source, receipts, step)
        while await attach_waiting(node):  # cases, witnessing: now, not at the next serve
            pass
        return report

    report: ImportReport = _with_progress(_("importing"), imported)
    typer.echo(_("accepted {a}, already had {d}, receipts applied {r}, refused {x}").format(
        a=len(report.accepted), d=len(report.duplicates), r=len(report.receipts_applied),
        x=len(report.refused)))
    for message_id, code, detail in report.refused:
        typer.echo(f"refused {message_id}: {code}: {detail}", err=True)
    if report.reply:
        typer.echo(_("receipts written to {path}").format(path=report.reply))
    if report.refused:
        raise typer.Exit(1)


@audit_app.command("verify",
    help=_("Re-compute the audit chain and its Merkle tree; exit 1 naming the first broken "
           "entry."))
def audit_verify() -> None:
    """Re-compute the audit chain and its Merkle tree; exit 1 naming the first broken
    entry."""
    from gateway.audit.tree import verify

    verdict, tree = with_database(settings_or_exit(), verify)
    if not verdict.intact:
        fail(_("audit chain broken at entry {seq}: {reason}").format(seq=verdict.broken_at,
                                                                     reason=verdict.reason))
    if not tree.intact:
        fail(_("audit tree broken: {reason}").format(reason=tree.problem))
    typer.echo(_("audit chain intact: {count} entries").format(count=verdict.entries))
    typer.echo(_("audit tree intact: {count} leaves").format(count=tree.size))


@audit_app.command("checkpoint",
    help=_("Print the audit log's latest signed checkpoint and which partners cosigned it; "
           "--new signs one of the log as it is now and sends it to the partners."))
def audit_checkpoint(
    new: Annotated[bool, typer.Option("--new", help=_(
        "sign a checkpoint now if the log has grown, and send it to the partners to "
        "cosign"))] = False,
) -> None:
    """Print the latest checkpoint (signed note) and its cosigners."""
    from datetime import UTC, datetime

    from gateway.audit import checkpoints
    from gateway.exchange import checkpointing

    async def work(node: Node) -> tuple[checkpoints.Stored | None, list[tuple[str, int]]]:
        if new:
            await checkpointing.checkpoint_and_send(node)  # to be cosigned
        return await checkpointing.latest_cosigned(node)

    try:
        stored, cosigned = with_node(settings_or_exit(), work)
    except checkpoints.CheckpointError as exc:
        fail(exc)
    if stored is None:
        fail(_("no checkpoint yet: the audit log is empty"))
    typer.echo(stored.note.decode(), nl=False)
    if not cosigned:
        typer.echo(_("no partner has cosigned this checkpoint yet"), err=True)
    for kid, at in cosigned:
        typer.echo(_("cosigned by {kid} at {time}").format(
            kid=kid, time=datetime.fromtimestamp(at, UTC).isoformat()), err=True)


@app.command("backup",
    help=_("Take a consistent online copy of the SQLite database (the node may keep running)."))
def backup(target: Annotated[Path, typer.Argument(metavar="OUT.db")]) -> None:
    """Take a consistent online copy of the SQLite database (the node may keep running)."""
    settings = settings_or_exit()
    url = settings.database_url or ""
    if not url.startswith("sqlite+aiosqlite:///"):
        fail(_("backup copies SQLite databases; use pg_dump for PostgreSQL"))
    source = Path(url.removeprefix("sqlite+aiosqlite:///"))
    if not source.exists():
        fail(_("no database at {path}").format(path=source))
    if target.exists():
        fail(_("{path} exists; choose another file name").format(path=target))
    migrate_or_exit(settings)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    dst.close()
    src.close()
    target.chmod(0o600)
    typer.echo(_("backup written to {path}").format(path=target))

