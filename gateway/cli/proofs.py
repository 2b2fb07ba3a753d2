"""``gateway proof export`` and ``gateway proof verify`` (NODE.md): the proof bundle of
PROTOCOL.md §4.8, and its offline check."""

from __future__ import annotations

import time
from gettext import gettext as _
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.cli.apps import proof_app
from gateway.cli.running import (
    fail,
    keystore,
    registry_or_exit,
    settings_or_exit,
    with_node,
)

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
    sender: Annotated[str | None, typer.Option("--from", metavar="SENDER", help=_(
        "whose message it is (this node's id, or a partner's), needed when more than one "
        "sender used the id: ids are unique per sender only"))] = None,
) -> None:
    """Write the proof bundle of one message."""
    from gateway.exchange.proofs import ProofError, ProofPendingError, export_bundle

    if out.exists():
        fail(_("{path} exists; choose another file name").format(path=out))
    why = " ".join(reason.split()) or _("proof made at the command line")
    settings = settings_or_exit()
    deadline = time.monotonic() + max(0, wait)

    async def work(node: Node) -> bytes:
        return await export_bundle(node, message_id, "operator", why, within_case,
                                   sender=sender)

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
    "Check a proof bundle offline with this node's own keys and the keys it pinned for its "
    "partners (never the keys inside the bundle), one line per check; exit 1 if one fails."))
def verify(
    bundle: Annotated[Path, typer.Argument(metavar="FILE.zip")],
    keys: Annotated[Path | None, typer.Option("--keys", metavar="FILE", help=_(
        "check with the keys in this file instead of this node's (the format of the "
        "bundle's keys.json)"))] = None,
) -> None:
    """Check a proof bundle offline, with the keys this node trusts."""
    from gateway.bxproof import Bundle, CheckError, read_keys, run_checks

    try:
        if keys is not None:
            trusted, trusted_as = read_keys(str(keys)), _("the keys in {path}").format(
                path=keys)
        else:
            trusted, trusted_as = _node_keys()
        typer.echo(_("trusted: {keys}; the keys inside the bundle are not trusted").format(
            keys=trusted_as))
        loaded = Bundle(str(bundle), trusted, trusted_as)
    except CheckError as exc:
        fail(_("{path}: {reason}").format(path=bundle, reason=exc))

    def say(check: str, ok: bool, text: str) -> None:
        mark = _("holds") if ok else _("FAILS")
        typer.echo(f"{mark}: {CHECKS.get(check, check)}: {text}")

    if not run_checks(loaded, say):
        fail(_("the proof does not hold"))
    typer.echo(_("the proof holds"))


def _node_keys() -> tuple[dict[str, object], str]:
    """The keys a node checks a bundle with: its own published keys and those it pinned
    for its partners (a partner file with a problem is left out, and said so)."""
    from gateway.trust.keys import KeyStoreError
    from gateway.trust.partners import check_partner_files, proof_keys, spoken

    settings = settings_or_exit()
    try:
        own = keystore(settings).published()
    except KeyStoreError as exc:
        fail(exc)
    partners, problems = check_partner_files(settings.partners_path,
                                             registry_or_exit(settings).types())
    for problem in problems:
        typer.echo(f"gateway: {spoken(problem, _)}", err=True)
    listed = proof_keys(settings.node_id, own, partners.values())
    return {"keys": listed}, _("this node's own keys and the keys it pinned for its "
                               "partners ({partners})").format(
        partners=", ".join(sorted(partners)) or _("none"))
