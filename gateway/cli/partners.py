"""``gateway partners``: the partner directory."""

from __future__ import annotations

from enum import StrEnum
from gettext import gettext as _
from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.cli.apps import partners_app
from gateway.cli.running import (
    audit_change,
    fail,
    now,
    registry_or_exit,
    run,
    settings_or_exit,
    when,
    with_node,
)


class DeliveryChoice(StrEnum):
    """How messages reach a partner."""

    PUSH = "push"
    PULL = "pull"


@partners_app.command("list",
    help=_("The partner directory, one line per partner with delivery mode and key state."))
def partners_list() -> None:
    """The partner directory, one line per partner with delivery mode and key state."""
    from gateway.trust.partners import check_partner_files, spoken

    settings = settings_or_exit()
    partners, problems = check_partner_files(settings.partners_path,
                                             registry_or_exit(settings).types())
    moment = now()
    for partner in partners.values():
        keys = ", ".join(f"{kid} ({state})" for kid, state in partner.key_states(moment))
        typer.echo(f"{partner.node_id}  {partner.file.delivery}  "
                   f"{partner.file.endpoint or '-'}  {keys or _('no keys')}")
    for problem in problems:
        typer.echo(f"gateway: {spoken(problem, _)}", err=True)
    if problems:
        raise typer.Exit(1)


@partners_app.command("check",
    help=_("Validate every partner file; exit 1 with one line per problem."))
def partners_check() -> None:
    """Validate every partner file; exit 1 with one line per problem."""
    from gateway.trust.partners import check_partner_files, spoken

    settings = settings_or_exit()
    partners, problems = check_partner_files(settings.partners_path,
                                             registry_or_exit(settings).types())
    for problem in problems:
        typer.echo(spoken(problem, _), err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo(_("{count} partner files OK").format(count=len(partners)))


def _load_jwks(jwks: Path | None, fetch: bool, endpoint: str | None) -> dict[str, Any]:
    import httpx

    from gateway.protocol.encoding import EncodingError, strict_json_loads

    if (jwks is None) == (not fetch):
        fail(_("give exactly one of --jwks FILE or --fetch"))
    try:
        if jwks is not None:
            document = strict_json_loads(jwks.read_bytes())
        else:
            if not endpoint:
                fail(_("--fetch needs --endpoint"))
            response = httpx.get(f"{endpoint.rstrip('/')}/.well-known/jwks.json", timeout=10)
            response.raise_for_status()
            document = strict_json_loads(response.content)
    except (OSError, EncodingError, httpx.HTTPError) as exc:
        fail(_("cannot read the JWK Set: {error}").format(error=exc))
    if not isinstance(document, dict):
        fail(_("the JWK Set is not a JSON object"))
    return document


@partners_app.command("enrol",
    help=_("Pin a partner's keys after checking their thumbprints; write its partner file."))
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
    poll_seconds: Annotated[int | None, typer.Option(
        min=0, max=86400, help=_("Fetch what waits for us there every N seconds (0: never)."))
    ] = None,
) -> None:
    """Pin a partner's keys after checking their thumbprints; write its partner file."""
    from gateway.trust.partners import PartnerFileError, enrol_partner, select_keys

    settings = settings_or_exit()
    types = registry_or_exit(settings).types()
    profile = settings.profiles_dir / f"{partner_id}.toml"
    if not profile.exists():
        fail(_("no profile for {id} in {dir}").format(id=partner_id, dir=settings.profiles_dir))
    document = _load_jwks(jwks, fetch, endpoint)
    try:
        keys = select_keys(partner_id, document, thumbprint)
        path = enrol_partner(profile, settings.partners_path, types, keys, endpoint,
                             delivery.value if delivery else None, poll_seconds)
    except PartnerFileError as exc:
        fail(exc)
    run(audit_change(settings, "partner.enrolled", partner_id,
                thumbprints=[k.thumbprint for k in keys]))
    for key in keys:
        typer.echo(_("pinned {kid} ({thumbprint})").format(kid=key.kid,
                                                           thumbprint=key.thumbprint))
    typer.echo(_("wrote {path}").format(path=path))


@partners_app.command("refresh",
    help=_("Re-read a partner's signed key set; pin new keys vouched for by a pinned key (per "
           "the partner file's key_continuity) or matching a thumbprint handed over."))
def partners_refresh(
    partner_id: Annotated[str, typer.Argument(metavar="ID", help=_("The partner's node id."))],
    thumbprint: Annotated[list[str] | None, typer.Option(
        "--thumbprint", help=_("RFC 7638 thumbprint handed over out of band (repeatable)."))
    ] = None,
) -> None:
    """Re-read a partner's signed key set and pin what continuity allows."""
    import httpx

    from gateway.exchange.keyrefresh import KeyRefreshError, RefreshOutcome, refresh

    async def use(node: Any) -> RefreshOutcome:
        async with httpx.AsyncClient() as client:
            return await refresh(node, client, partner_id, thumbprints=thumbprint or (),
                                 actor="operator")

    try:
        outcome = with_node(settings_or_exit(), use)
    except KeyRefreshError as exc:
        fail(exc)
    typer.echo(_("signed by {kid}; {known} key(s) already pinned").format(
        kid=outcome.vouched_by, known=outcome.known))
    for key in outcome.pinned:
        typer.echo(_("pinned {kid} ({thumbprint})").format(kid=key.kid,
                                                           thumbprint=key.thumbprint))
    for key in outcome.pending:
        typer.echo(_("waiting for an administrator: {kid} ({thumbprint}); accept it with "
                     "'gateway partners pending' and 'gateway partners accept N'").format(
                         kid=key.kid, thumbprint=key.thumbprint))
    for key in outcome.ignored:
        typer.echo(_("not pinned (key_continuity is off): {kid} ({thumbprint}); give its "
                     "--thumbprint to pin it").format(kid=key.kid, thumbprint=key.thumbprint))
    for key in outcome.narrowed:
        typer.echo(_("{kid} is now pinned for checkpoints only, as the partner marks it").format(
            kid=key.kid))
    for key in outcome.refused:
        why = outcome.why.get(key.kid)
        if why == "alias":
            text = _("REFUSED: {kid} offers a key pinned under another key id ({thumbprint})")
        elif why == "widened":
            text = _("REFUSED: {kid} is pinned for checkpoints only and comes back for every "
                     "use ({thumbprint})")
        else:
            text = _("REFUSED: {kid} comes back with another key ({thumbprint}); this is not a "
                     "rotation")
        typer.echo(text.format(kid=key.kid, thumbprint=key.thumbprint), err=True)
    for key in outcome.withheld:
        typer.echo(_("not pinned: {kid} ({thumbprint}) is vouched for by a set that contradicts "
                     "what is pinned").format(kid=key.kid, thumbprint=key.thumbprint),
                   err=True)
    if outcome.refused:
        raise typer.Exit(1)


@partners_app.command("pending",
    help=_("Partners' new keys vouched for by a pinned key, waiting for an administrator."))
def partners_pending() -> None:
    """Keys waiting for an administrator, one line each."""
    from gateway.exchange.keyrefresh import pending

    rows = with_node(settings_or_exit(), pending)
    if not rows:
        typer.echo(_("no key is waiting"))
    for row in rows:
        typer.echo(f"{row.id}  {row.partner}  {row.kid}  {row.thumbprint}  "
                   f"{_('vouched for by {kid}').format(kid=row.vouched_by)}  "
                   f"{when(row.offered_at)}")


def _decide(number: int, accept: bool) -> None:
    from gateway.exchange.keyrefresh import KeyDecision, KeyRefreshError, decide

    async def use(node: Any) -> KeyDecision:
        return await decide(node, number, accept, "operator")

    try:
        done = with_node(settings_or_exit(), use)
    except KeyRefreshError as exc:
        fail(exc)
    message = _("pinned {kid} of {partner}") if accept else _("rejected {kid} of {partner}")
    typer.echo(message.format(kid=done.kid, partner=done.partner))


@partners_app.command("accept", help=_("Pin a key waiting for an administrator (audited)."))
def partners_accept(
    number: Annotated[int, typer.Argument(metavar="N", help=_(
        "The number 'gateway partners pending' shows."))],
) -> None:
    """Pin a waiting key."""
    _decide(number, True)


@partners_app.command("reject", help=_("Refuse a key waiting for an administrator (audited)."))
def partners_reject(
    number: Annotated[int, typer.Argument(metavar="N", help=_(
        "The number 'gateway partners pending' shows."))],
) -> None:
    """Refuse a waiting key."""
    _decide(number, False)
