"""``gateway secret``: rotating the secret key while the node serves."""

from __future__ import annotations

from gettext import gettext as _
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.cli.apps import secret_app
from gateway.cli.running import audit_change, fail, now, run, settings_or_exit, when

if TYPE_CHECKING:
    from gateway.store.rekey import Progress


@secret_app.command("rotate", help=_(
    "A new secret key: every sealed value is sealed again in batches while the node serves; "
    "the old key is kept until nothing uses it. Run it again after a crash: it goes on "
    "where it stopped."))
def secret_rotate(
    batch: Annotated[int, typer.Option(min=1, max=5000, help=_(
        "Rows per transaction: smaller batches hold the database for shorter moments."))
    ] = 500,
) -> None:
    """Rotate the secret key (resumable)."""
    import time

    from gateway.runtime.node import open_database
    from gateway.store import rekey
    from gateway.store.crypto import SecretKeyError, key_tag, load_secret_key

    settings = settings_or_exit()
    path = settings.secret_key_path
    try:
        started = rekey.begin(path)
    except (SecretKeyError, OSError) as exc:
        fail(exc)
    tag = key_tag(load_secret_key(path)).hex()
    if started:
        typer.echo(_("new secret key {tag} in place; the old one is kept while values are "
                     "sealed again").format(tag=tag))
    else:
        typer.echo(_("resuming the rotation to the secret key {tag}").format(tag=tag))

    shown: dict[str, float] = {}

    def report(progress: Progress) -> None:
        """A line per column when it starts, then at most one a second."""
        moment = time.monotonic()
        if progress.column in shown and moment - shown[progress.column] < 1.0:
            return
        shown[progress.column] = moment
        typer.echo(_("{column}: {scanned} scanned, {resealed} sealed again").format(
            column=progress.column, scanned=progress.scanned, resealed=progress.resealed))

    async def work() -> tuple[int, int, int]:
        engine = await open_database(settings)
        try:
            resealed = await rekey.reseal(engine, path, batch=batch, report=report)
            left = await rekey.still_old(engine, path)
            moment = rekey.swapped_at(path)
            sessions = 0 if moment is None else await rekey.sessions_before(engine, moment,
                                                                              now())
            return resealed, left, sessions
        finally:
            await engine.dispose()

    resealed, left, sessions = run(work())
    typer.echo(_("{count} values sealed again").format(count=resealed))
    if left:
        typer.echo(_("{count} values are still sealed under the old key (written while this "
                     "ran); run 'gateway secret rotate' again").format(count=left))
        raise typer.Exit(1)
    if sessions:
        typer.echo(_("the old key is kept for {count} open session(s) begun before {time}; run "
                     "'gateway secret rotate' again once they have ended").format(
                         count=sessions, time=when(rekey.swapped_at(path))))
        run(audit_change(settings, "secret.resealed", tag, values=resealed))
        return
    removed = rekey.finish(path)
    run(audit_change(settings, "secret.rotated", tag, values=resealed, old_keys=removed))
    typer.echo(_("rotation finished: {count} old key(s) deleted").format(count=removed))
