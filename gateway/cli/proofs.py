"""``gateway proof export`` and ``gateway proof verify`` (NODE.md): the proof bundle of
PROTOCOL.md §4.8, and its offline check."""

from __future__ import annotations

import time
from gettext import gettext as _
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.cli.apps import proof_app
from gateway.cli.running import fail, settings_or_exit, with_node

if TYPE_CHECKING:
    from gateway.runtime.node import Node

#: How each check of the bundle is called, in the reader's words.
CHECKS = {
    "keys": _("keys"), "message": _("message"), "receipt": _("receipt"),
    "entry": _("audit entry"), "checkpoint": _("checkpoint"),
    "cosignature": _("partner's cosignature"), "inclusion": _("inclusion in the log"),
}


@proof_app.command("export", help=_(
    "Write the proof bundle of a message: the message as exchanged, its receipt, the audit "
    "entry, its inclusion under a checkpoint cosigned by the partner, and the keys."))
def export(
    message_id: Annotated[str, typer.Argument(metavar="MESSAGE_ID")],
    out: Annotated[Path, typer.Argument(metavar="OUT.zip")],
    reason: Annotated[str, typer.Option("--reason", help=_(
        "why the proof is made (kept in the audit log)"))] = "",
    within_case: Annotated[bool, typer.Option("--within-case", help=_(
        "for an H2 message: the proof goes only to the case's authorities"))] = False,
    wait: Annotated[int, typer.Option("--wait", metavar="SECONDS", help=_(
        "how long to wait for the partner to cosign a new checkpoint"))] = 60,
) -> None:
    """Write the proof bundle of one message."""
    from gateway.exchange.proofs import ProofError, ProofPendingError, export_bundle

    if out.exists():
        fail(_("{path} exists; choose another file name").format(path=out))
    why = " ".join(reason.split()) or _("proof made at the command line")
    settings = settings_or_exit()
    deadline = time.monotonic() + max(0, wait)

    async def work(node: Node) -> bytes:
        return await export_bundle(node, message_id, "operator", why, within_case)

    while True:
        try:
            data = with_node(settings, work)
            break
        except ProofPendingError as exc:
            if time.monotonic() >= deadline:
                fail(exc)
            typer.echo(exc.speak(_), err=True)
            time.sleep(2)
        except ProofError as exc:
            fail(exc)
    tmp = out.with_name(f".{out.name}.part")
    tmp.write_bytes(data)
    tmp.replace(out)
    typer.echo(_("proof written to {path}; check it with: python3 bxproof.py {path}").format(
        path=out))


@proof_app.command("verify", help=_(
    "Check a proof bundle offline, one line per check; exit 1 if one fails."))
def verify(
    bundle: Annotated[Path, typer.Argument(metavar="FILE.zip")],
    keys: Annotated[Path | None, typer.Option("--keys", metavar="FILE", help=_(
        "the keys you trust, as the bundle's keys.json"))] = None,
) -> None:
    """Check a proof bundle offline."""
    import json

    from gateway.bxproof import Bundle, CheckError, run_checks

    try:
        trusted = json.loads(keys.read_text(encoding="utf-8")) if keys else None
        loaded = Bundle(str(bundle), trusted)
    except (CheckError, OSError, ValueError) as exc:
        fail(_("{path}: {reason}").format(path=bundle, reason=exc))

    def say(check: str, ok: bool, text: str) -> None:
        mark = _("holds") if ok else _("FAILS")
        typer.echo(f"{mark}: {CHECKS.get(check, check)}: {text}")

    if not run_checks(loaded, say):
        fail(_("the proof does not hold"))
    typer.echo(_("the proof holds"))
