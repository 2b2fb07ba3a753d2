"""The ``gateway`` command line (NODE.md). Thin: parse, call one function, print the answer.

Exit status: 0 on success, 1 on a refused or failed operation (one line on standard error),
2 on a usage error.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from gettext import gettext as _
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer

from gateway import __version__
from gateway.documents.registry import RegistryError, SchemaRegistry
from gateway.protocol.encoding import EncodingError, strict_json_loads
from gateway.settings import Settings, SettingsError, load_settings
from gateway.trust.keys import KeyStore, KeyStoreError
from gateway.trust.partners import (
    PartnerFileError,
    check_partner_files,
    enrol_partner,
    select_keys,
)

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help=_("Border Exchange Gateway: signed case exchange between agencies (BX/1)."))
keys_app = typer.Typer(no_args_is_help=True, help=_("This node's signing keys."))
partners_app = typer.Typer(no_args_is_help=True, help=_("The partner directory."))
app.add_typer(keys_app, name="keys")
app.add_typer(partners_app, name="partners")


class AlgChoice(StrEnum):
    """Signing algorithms a new key may use."""

    EDDSA = "EdDSA"
    ES256 = "ES256"


class DeliveryChoice(StrEnum):
    """How messages reach a partner."""

    PUSH = "push"
    PULL = "pull"


def _fail(message: str) -> NoReturn:
    typer.echo(f"gateway: {message}", err=True)
    raise typer.Exit(1)


def _now() -> datetime:
    return datetime.now(UTC)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        _fail(str(exc))


def _registry(settings: Settings) -> SchemaRegistry:
    try:
        return SchemaRegistry.load(settings.schemas_dir)
    except RegistryError as exc:
        _fail(_("schema registry refused: {error}").format(error=exc))


def _keystore(settings: Settings) -> KeyStore:
    return KeyStore(settings.key_path, settings.node_id)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gateway {__version__} (BX/1)")
        raise typer.Exit


@app.callback()
def main_callback(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help=_("Print the version and exit."))] = False,
) -> None:
    """Border Exchange Gateway."""


@keys_app.command("generate")
def keys_generate(
    alg: Annotated[AlgChoice, typer.Option(help=_("Signing algorithm."))] = AlgChoice.EDDSA,
    label: Annotated[str | None, typer.Option(help=_("Key label; default: year-month."))] = None,
) -> None:
    """Create this node's signing key (refuses to overwrite one)."""
    store = _keystore(_settings())
    try:
        key = store.generate(alg.value, label, _now())
    except KeyStoreError as exc:
        _fail(str(exc))
    entry = next(k for k in store.published() if k.kid == key.kid)
    typer.echo(f"kid: {key.kid}")
    typer.echo(f"thumbprint: {entry.thumbprint}")


@keys_app.command("show")
def keys_show(
    jwks_only: Annotated[bool, typer.Option("--jwks-only",
                                            help=_("Print only the JWK Set (JSON)."))] = False,
) -> None:
    """Print this node's public JWK Set and the thumbprints to hand to partners."""
    store = _keystore(_settings())
    try:
        signing = store.signing_key().kid
        published = store.published()
    except KeyStoreError as exc:
        _fail(str(exc))
    if not jwks_only:
        for key in published:
            mark = _("signs") if key.kid == signing else _("published")
            typer.echo(f"{key.kid}  {key.alg}  {key.thumbprint}  {mark}")
    typer.echo(json.dumps(store.jwks(), indent=2))


@keys_app.command("rotate")
def keys_rotate(
    label: Annotated[str | None, typer.Option(help=_("Label of the new key."))] = None,
    alg: Annotated[AlgChoice | None, typer.Option(help=_("Algorithm of the new key."))] = None,
) -> None:
    """Add a new key and make it the one that signs; the old one stays published."""
    store = _keystore(_settings())
    try:
        key = store.rotate(label, _now(), alg.value if alg else None)
    except KeyStoreError as exc:
        _fail(str(exc))
    entry = next(k for k in store.published() if k.kid == key.kid)
    typer.echo(f"kid: {key.kid}")
    typer.echo(f"thumbprint: {entry.thumbprint}")
    typer.echo(_("Hand the new thumbprint to every partner; retire the old key once they "
                 "have pinned the new one."))


@keys_app.command("retire")
def keys_retire(
    kid: Annotated[str, typer.Argument(help=_("The key id to stop publishing."))],
    yes: Annotated[bool, typer.Option("--yes", help=_("Do not ask for confirmation."))] = False,
) -> None:
    """Stop publishing an old key (partners can no longer fetch it)."""
    store = _keystore(_settings())
    if not yes:
        if not sys.stdin.isatty():
            _fail(_("retiring a key needs --yes when not run interactively"))
        typer.confirm(_("Stop publishing {kid}?").format(kid=kid), abort=True)
    try:
        store.retire(kid)
    except KeyStoreError as exc:
        _fail(str(exc))
    typer.echo(_("retired {kid}").format(kid=kid))


@partners_app.command("list")
def partners_list() -> None:
    """The partner directory, one line per partner with delivery mode and key state."""
    settings = _settings()
    partners, problems = check_partner_files(settings.partners_path,
                                             _registry(settings).types())
    now = _now()
    for partner in partners.values():
        keys = ", ".join(f"{kid} ({state})" for kid, state in partner.key_states(now))
        typer.echo(f"{partner.node_id}  {partner.file.delivery}  "
                   f"{partner.file.endpoint or '-'}  {keys or _('no keys')}")
    for problem in problems:
        typer.echo(f"gateway: {problem}", err=True)
    if problems:
        raise typer.Exit(1)


@partners_app.command("check")
def partners_check() -> None:
    """Validate every partner file; exit 1 with one line per problem."""
    settings = _settings()
    partners, problems = check_partner_files(settings.partners_path,
                                             _registry(settings).types())
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo(_("{count} partner files OK").format(count=len(partners)))


def _load_jwks(jwks: Path | None, fetch: bool, endpoint: str | None) -> dict[str, Any]:
    if (jwks is None) == (not fetch):
        _fail(_("give exactly one of --jwks FILE or --fetch"))
    try:
        if jwks is not None:
            document = strict_json_loads(jwks.read_bytes())
        else:
            if not endpoint:
                _fail(_("--fetch needs --endpoint"))
            response = httpx.get(f"{endpoint.rstrip('/')}/.well-known/jwks.json", timeout=10)
            response.raise_for_status()
            document = strict_json_loads(response.content)
    except (OSError, EncodingError, httpx.HTTPError) as exc:
        _fail(_("cannot read the JWK Set: {error}").format(error=exc))
    if not isinstance(document, dict):
        _fail(_("the JWK Set is not a JSON object"))
    return document


@partners_app.command("enrol")
def partners_enrol(
    partner_id: Annotated[str, typer.Argument(metavar="ID", help=_("The partner's node id."))],
    thumbprint: Annotated[list[str], typer.Option(
        "--thumbprint", help=_("RFC 7638 thumbprint handed over out of band (repeatable)."))],
    endpoint: Annotated[str | None, typer.Option(
        help=_("The partner's base URL, e.g. https://gw.example/bx/v1."))] = None,
    jwks: Annotated[Path | None, typer.Option(help=_("Read the JWK Set from a file."))] = None,
    fetch: Annotated[bool, typer.Option(
        "--fetch", help=_("Fetch the JWK Set from the endpoint."))] = False,
    delivery: Annotated[DeliveryChoice | None, typer.Option(
        help=_("push: we call it; pull: it fetches from us."))] = None,
) -> None:
    """Pin a partner's keys after checking their thumbprints; write its partner file."""
    settings = _settings()
    types = _registry(settings).types()
    profile = settings.profiles_dir / f"{partner_id}.toml"
    if not profile.exists():
        _fail(_("no profile for {id} in {dir}").format(id=partner_id, dir=settings.profiles_dir))
    document = _load_jwks(jwks, fetch, endpoint)
    try:
        keys = select_keys(partner_id, document, thumbprint)
        path = enrol_partner(profile, settings.partners_path, types, keys, endpoint,
                             delivery.value if delivery else None)
    except PartnerFileError as exc:
        _fail(str(exc))
    for key in keys:
        typer.echo(_("pinned {kid} ({thumbprint})").format(kid=key.kid,
                                                           thumbprint=key.thumbprint))
    typer.echo(_("wrote {path}").format(path=path))


def main() -> None:
    """Console entry point."""
    app()
