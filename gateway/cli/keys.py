"""``gateway keys``: this node's signing keys."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from gettext import gettext as _
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.cli.apps import keys_app
from gateway.cli.running import audit_change, fail, keystore, now, run, settings_or_exit

if TYPE_CHECKING:
    from gateway.settings import Settings
    from gateway.trust.keys import KeyStore


class AlgChoice(StrEnum):
    """Signing algorithms a new key may use."""

    EDDSA = "EdDSA"
    ES256 = "ES256"


def _announce(settings: Settings, store: KeyStore, kid: str, action: str,
              before: set[str] | None = None) -> None:
    """Audit a new key and print its id and the thumbprint to hand to partners; then the
    checkpoint key published with it, if any (an ES256 node's, PROTOCOL.md §4.8)."""
    published = store.published()
    entry = next(k for k in published if k.kid == kid)
    run(audit_change(settings, action, kid, thumbprint=entry.thumbprint))
    typer.echo(f"kid: {kid}")
    typer.echo(f"thumbprint: {entry.thumbprint}")
    for extra in published:
        if before is not None and extra.checkpoints and extra.kid not in before:
            _announce_checkpoint_key(settings, extra.kid, extra.thumbprint)


def _announce_checkpoint_key(settings: Settings, kid: str, thumbprint: str) -> None:
    run(audit_change(settings, "key.generated", kid, thumbprint=thumbprint,
                     purpose="checkpoints"))
    typer.echo(f"checkpoint kid: {kid}")
    typer.echo(f"checkpoint thumbprint: {thumbprint}")
    typer.echo(_("This Ed25519 key signs only the audit log's checkpoints and cosignatures; "
                 "hand its thumbprint to partners with the other one."))


@keys_app.command("generate", help=_("Create this node's signing key (refuses to overwrite one)."))
def keys_generate(
    alg: Annotated[AlgChoice, typer.Option(help=_("Signing algorithm."))] = AlgChoice.EDDSA,
    label: Annotated[str | None, typer.Option(help=_("Key label; default: year-month."))] = None,
) -> None:
    """Create this node's signing key (refuses to overwrite one)."""
    from gateway.trust.keys import KeyStoreError

    settings = settings_or_exit()
    store = keystore(settings)
    try:
        key = store.generate(alg.value, label, now())
    except KeyStoreError as exc:
        fail(exc)
    _announce(settings, store, key.kid, "key.generated", before=set())


@keys_app.command("show",
    help=_("Print this node's public JWK Set and the thumbprints to hand to partners."))
def keys_show(
    jwks_only: Annotated[bool, typer.Option("--jwks-only",
                                            help=_("Print only the JWK Set (JSON)."))] = False,
) -> None:
    """Print this node's public JWK Set and the thumbprints to hand to partners."""
    from gateway.trust.keys import KeyStoreError

    store = keystore(settings_or_exit())
    try:
        signing = store.signing_key().kid
        published = store.published()
    except KeyStoreError as exc:
        fail(exc)
    try:
        checkpointing = store.checkpoint_key().kid
    except KeyStoreError:
        checkpointing = None
    if not jwks_only:
        for key in published:
            mark = (_("signs") if key.kid == signing
                    else _("signs checkpoints") if key.kid == checkpointing
                    else _("next: published, not signing yet") if key.next
                    else _("published"))
            typer.echo(f"{key.kid}  {key.alg}  {key.thumbprint}  {mark}")
    typer.echo(json.dumps(store.jwks(), indent=2))


@keys_app.command("rotate",
    help=_("Add a new key. With --next it is only published (partners pin it from the signed "
           "key set) until 'gateway keys activate'; without, it signs at once (emergencies)."))
def keys_rotate(
    label: Annotated[str | None, typer.Option(help=_("Label of the new key."))] = None,
    alg: Annotated[AlgChoice | None, typer.Option(help=_("Algorithm of the new key."))] = None,
    next_key: Annotated[bool, typer.Option(
        "--next", help=_("Publish the new key without signing with it yet."))] = False,
) -> None:
    """Add a new key; with --next it is published ahead of use."""
    from gateway.trust.keys import KeyStoreError

    settings = settings_or_exit()
    store = keystore(settings)
    before = {k.kid for k in store.published()}
    try:
        if next_key:
            kid = store.rotate_next(label, now(), alg.value if alg else None).kid
        else:
            kid = store.rotate(label, now(), alg.value if alg else None).kid
    except KeyStoreError as exc:
        fail(exc)
    _announce(settings, store, kid, "key.published-next" if next_key else "key.rotated",
              before=before)
    if next_key:
        typer.echo(_("Published, not signing yet. Partners pin it from the signed key set "
                     "(their daily refresh, or 'gateway partners refresh'); then run "
                     "'gateway keys activate {kid}'.").format(kid=kid))
    else:
        typer.echo(_("Hand the new thumbprint to every partner; retire the old key once they "
                     "have pinned the new one."))


@keys_app.command("checkpoint-key",
    help=_("Publish a new Ed25519 key for the audit log's checkpoints and cosignatures (a node "
           "whose signing key is ES256; PROTOCOL.md §4.8). The old one stays published until "
           "retired."))
def keys_checkpoint_key(
    label: Annotated[str | None, typer.Option(
        help=_("Label of the new key; default: checkpoints-year-month."))] = None,
) -> None:
    """Publish a new Ed25519 checkpoint key and sign checkpoints with it."""
    from gateway.trust.keys import KeyStoreError

    settings = settings_or_exit()
    store = keystore(settings)
    try:
        entry = store.add_checkpoint_key(label, now())
    except KeyStoreError as exc:
        fail(exc)
    _announce_checkpoint_key(settings, entry.kid, entry.thumbprint)
    typer.echo(_("Partners pin it from the signed key set (their daily refresh, or 'gateway "
                 "partners refresh'); until then they refuse its checkpoints."))


@keys_app.command("activate", help=_("Make the published next key the one that signs."))
def keys_activate(
    kid: Annotated[str, typer.Argument(help=_("The next key's id."))],
) -> None:
    """Make the published next key the one that signs (a running node switches at once)."""
    from gateway.trust.keys import KeyStoreError

    settings = settings_or_exit()
    store = keystore(settings)
    try:
        before = store.signing_key().kid
        key = store.activate(kid)
    except KeyStoreError as exc:
        fail(exc)
    run(audit_change(settings, "key.activated", key.kid, previous=before))
    typer.echo(_("{kid} signs now; {previous} stays published until you retire it").format(
        kid=key.kid, previous=before))


@keys_app.command("retire", help=_("Stop publishing an old key (partners can no longer fetch it)."))
def keys_retire(
    kid: Annotated[str, typer.Argument(help=_("The key id to stop publishing."))],
    yes: Annotated[bool, typer.Option("--yes", help=_("Do not ask for confirmation."))] = False,
) -> None:
    """Stop publishing an old key (partners can no longer fetch it)."""
    from gateway.trust.keys import KeyStoreError

    settings = settings_or_exit()
    store = keystore(settings)
    if not yes:
        if not sys.stdin.isatty():
            fail(_("retiring a key needs --yes when not run interactively"))
        typer.confirm(_("Stop publishing {kid}?").format(kid=kid), abort=True)
    try:
        store.retire(kid)
    except KeyStoreError as exc:
        fail(exc)
    run(audit_change(settings, "key.retired", kid))
    typer.echo(_("retired {kid}").format(kid=kid))
