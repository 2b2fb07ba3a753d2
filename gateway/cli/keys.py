"""``gateway keys``: this node's signing keys."""

from __future__ import annotations

import json
import sys
from gettext import gettext as _
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.cli import (
    AlgChoice,
    audit_change,
    fail,
    keys_app,
    keystore,
    now,
    run,
    settings_or_exit,
)

if TYPE_CHECKING:
    from gateway.settings import Settings
    from gateway.trust.keys import KeyStore


def _announce(settings: Settings, store: KeyStore, kid: str, action: str) -> None:
    """Audit a new key and print its id and the thumbprint to hand to partners."""
    entry = next(k for k in store.published() if k.kid == kid)
    run(audit_change(settings, action, kid, thumbprint=entry.thumbprint))
    typer.echo(f"kid: {kid}")
    typer.echo(f"thumbprint: {entry.thumbprint}")


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
        fail(str(exc))
    _announce(settings, store, key.kid, "key.generated")


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
        fail(str(exc))
    if not jwks_only:
        for key in published:
            mark = _("signs") if key.kid == signing else _("published")
            typer.echo(f"{key.kid}  {key.alg}  {key.thumbprint}  {mark}")
    typer.echo(json.dumps(store.jwks(), indent=2))


@keys_app.command("rotate",
    help=_("Add a new key and make it the one that signs; the old one stays published."))
def keys_rotate(
    label: Annotated[str | None, typer.Option(help=_("Label of the new key."))] = None,
    alg: Annotated[AlgChoice | None, typer.Option(help=_("Algorithm of the new key."))] = None,
) -> None:
    """Add a new key and make it the one that signs; the old one stays published."""
    from gateway.trust.keys import KeyStoreError

    settings = settings_or_exit()
    store = keystore(settings)
    try:
        key = store.rotate(label, now(), alg.value if alg else None)
    except KeyStoreError as exc:
        fail(str(exc))
    _announce(settings, store, key.kid, "key.rotated")
    typer.echo(_("Hand the new thumbprint to every partner; retire the old key once they "
                 "have pinned the new one."))


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
        fail(str(exc))
    run(audit_change(settings, "key.retired", kid))
    typer.echo(_("retired {kid}").format(kid=kid))
