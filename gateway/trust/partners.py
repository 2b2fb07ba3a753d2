"""The partner directory: one TOML file per partner (NODE.md), checked so that trust fails closed.

At start, any bad file stops the node. On reload (SIGHUP or the admin API) the good files take
effect and a partner whose file has gone bad is dropped, so its messages are refused until an
operator mends it: a revocation never waits for a restart, and a typo never widens trust.
"""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from gateway.protocol import ids
from gateway.protocol.envelope import describe_validation_error, parse_rfc3339_utc
from gateway.protocol.errors import N_, GatewayError, Message, said
from gateway.protocol.inbound import PartnerPolicy
from gateway.protocol.jose import (
    JwkError,
    PinnedKey,
    checkpoint_marking,
    checkpoints_only,
    jwk_to_public_key,
    thumbprint,
)
from gateway.trust.files import one_line, write_atomically
from gateway.trust.keys import PublishedKey

NodeId = Annotated[str, StringConstraints(pattern=f"^{ids.NODE_ID.pattern}$")]


class PartnerFileError(GatewayError):
    """Partner files that cannot be trusted; ``problems`` has one line per fault."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)

    def speak(self, translate: Callable[[str], str],
              code: Callable[[str], str] | None = None) -> str:
        """Each problem in the reader's language."""
        return "; ".join(spoken(p, translate, code) for p in self.problems)


def spoken(problem: str, translate: Callable[[str], str],
           code: Callable[[str], str] | None = None) -> str:
    """One problem line in the reader's language (as it was, if it is plain text)."""
    return problem.error.speak(translate, code) if isinstance(problem, Message) else problem


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("a time needs a zone (use Z for UTC)")
        return value
    if isinstance(value, str):
        return parse_rfc3339_utc(value)
    raise ValueError("must be an RFC 3339 UTC time such as 2026-11-01T00:00:00Z")


class KeyEntry(BaseModel):
    """One ``[[keys]]`` table: a pinned public key and its state."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kid: str
    thumbprint: str
    jwk: dict[str, str]
    not_before: datetime | None = None
    not_after: datetime | None = None
    revoked: bool = False
    #: Not in NODE.md's example: the partner publishes this key for its checkpoints and
    #: cosignatures only (PROTOCOL.md §4.8, ``"bx_use": "checkpoints"``): it verifies notes
    #: and cosignatures, never a message, receipt, key set or bearer token. Written only
    #: when true; a file without it reads as before.
    checkpoints_only: bool = False

    _times = field_validator("not_before", "not_after", mode="before")(
        _as_datetime)

    def pinned(self) -> PinnedKey:
        """The key as the protocol checks it."""
        return PinnedKey(self.kid, jwk_to_public_key(self.jwk), self.not_before,
                         self.not_after, self.revoked, self.checkpoints_only)

    def as_toml(self) -> dict[str, Any]:
        """The ``[[keys]]`` table as written (``checkpoints_only`` only when true)."""
        data = self.model_dump(exclude_none=True)
        if not self.checkpoints_only:
            data.pop("checkpoints_only")
        return data


class PartnerFile(BaseModel):
    """The content of ``<partners dir>/<id>.toml``; a profile is the same without keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: NodeId
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    languages: Annotated[list[Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]],
                         Field(min_length=1)]
    delivery: Literal["push", "pull"] = "push"
    endpoint: Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$")] | None = None
    max_age_days: Annotated[int, Field(ge=1, le=365)] = 30
    deadline_hours: Annotated[int, Field(ge=1, le=24 * 365)] = 72
    rate_per_minute: Annotated[int, Field(ge=1, le=1_000_000)] = 6000
    #: Not in NODE.md's example: fetch what waits for us at this partner every N s (0: never).
    poll_seconds: Annotated[int, Field(ge=0, le=86_400)] = 0
    may_send: list[str] = Field(default_factory=list)
    #: Not in NODE.md's example: answer deadlines in working days per document type, where
    #: an agreement with this partner differs from MESSAGES.md's defaults.
    answer_working_days: dict[str, Annotated[int, Field(ge=1, le=365)]] = Field(
        default_factory=dict)
    urgent_answer_working_days: dict[str, Annotated[int, Field(ge=1, le=365)]] = Field(
        default_factory=dict)
    name: dict[str, str]

    @field_validator("name")
    @classmethod
    def _names_a_document_can_carry(cls, value: dict[str, str]) -> dict[str, str]:
        """Each name travels in signed documents and heads pages: a language code, and one
        line of 1 to 200 characters."""
        for lang, text in value.items():
            if not (2 <= len(lang) <= 3 and lang.isalpha() and lang.islower()):
                raise ValueError(f"name: {lang!r} is not a language code such as vi or km")
            if not one_line(text.strip(), 200):
                raise ValueError(f"name.{lang}: one line of 1 to 200 characters")
        return {lang: text.strip() for lang, text in value.items()}

    #: PROTOCOL.md §2 key continuity: a new key of this partner vouched for by a pinned one
    #: is pinned at once (``auto``), listed for an administrator (``confirm``), or only on a
    #: thumbprint handed over (``off``).
    key_continuity: Literal["auto", "confirm", "off"] = "confirm"
    keys: list[KeyEntry] = Field(default_factory=list)


@dataclass(frozen=True)
class Partner:
    """A partner as the node uses it."""

    file: PartnerFile
    path: Path

    @property
    def node_id(self) -> str:
        """The partner's node id."""
        return self.file.id

    def policy(self) -> PartnerPolicy:
        """What the inbound checks need."""
        return PartnerPolicy(node_id=self.file.id,
                             keys={k.kid: k.pinned() for k in self.file.keys},
                             may_send=frozenset(self.file.may_send),
                             max_age=timedelta(days=self.file.max_age_days))

    def key_states(self, now: datetime) -> list[tuple[str, str]]:
        """``(kid, state)`` per key: ``valid``, ``revoked``, ``expired`` or ``not-yet-valid``."""
        states = []
        for key in self.file.keys:
            if key.revoked:
                state = "revoked"
            elif key.not_after is not None and now > key.not_after:
                state = "expired"
            elif key.not_before is not None and now < key.not_before:
                state = "not-yet-valid"
            else:
                state = "valid"
            states.append((key.kid, state))
        return states


def _problems_of(data: PartnerFile, expected_id: str, known_types: Collection[str], *,
                 profile: bool) -> list[str]:
    problems: list[str] = []
    if data.id != expected_id:
        problems.append(said(N_("id {id!r} differs from the file name {name!r}"), id=data.id,
                             name=expected_id))
    problems.extend(said(N_("name.{lang} is missing"), lang=lang) for lang in ("vi", "en")
                    if lang not in data.name)
    unknown = sorted(set(data.may_send) - set(known_types))
    if unknown:
        problems.append(said(N_("may_send names unknown document types: {types}"),
                             types=", ".join(unknown)))
    if not profile and data.delivery == "push" and not data.endpoint:
        problems.append(said(N_("delivery is 'push' but no endpoint is given")))
    seen: set[str] = set()
    for index, key in enumerate(data.keys):
        where = f"keys[{index}] ({key.kid})"
        if ids.kid_node(key.kid) != data.id:
            problems.append(said(N_("{where}: kid names another node than {id}"), where=where,
                                 id=data.id))
        if key.kid in seen:
            problems.append(said(N_("{where}: kid appears twice"), where=where))
        seen.add(key.kid)
        try:
            jwk_to_public_key(key.jwk)
            actual = thumbprint(key.jwk)
        except JwkError as exc:
            problems.append(said(N_("{where}: {error}"), where=where, error=exc))
            continue
        if actual != key.thumbprint:
            problems.append(said(N_("{where}: thumbprint does not match the jwk (jwk gives "
                                    "{actual})"), where=where, actual=actual))
        if key.not_before and key.not_after and key.not_after <= key.not_before:
            problems.append(said(N_("{where}: not_after is not after not_before"), where=where))
        if key.checkpoints_only and key.jwk.get("crv") != "Ed25519":
            problems.append(said(N_("{where}: a key for checkpoints only must be Ed25519"),
                                 where=where))
    return problems


def read_partner_file(path: Path, known_types: Collection[str], *,
                      profile: bool = False) -> PartnerFile:
    """Read and check one partner file (or profile); raise :class:`PartnerFileError`."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PartnerFileError([said(N_("{path}: cannot read: {error}"), path=path,
                                     error=exc)]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise PartnerFileError([said(N_("{path}: not TOML: {error}"), path=path,
                                     error=exc)]) from exc
    try:
        data = PartnerFile.model_validate(raw)
    except ValidationError as exc:
        raise PartnerFileError([said(N_("{path}: {error}"), path=path,
                                     error=describe_validation_error("field", exc))]) from exc
    problems = _problems_of(data, path.stem, known_types, profile=profile)
    if problems:
        raise PartnerFileError([said(N_("{path}: {error}"), path=path, error=p) for p in problems])
    return data


def check_partner_files(directory: Path, known_types: Collection[str]
                        ) -> tuple[dict[str, Partner], list[str]]:
    """Read every ``*.toml`` in ``directory``: the good partners and one line per problem."""
    partners: dict[str, Partner] = {}
    problems: list[str] = []
    if not directory.is_dir():
        return partners, problems
    for path in sorted(directory.glob("*.toml")):
        try:
            partners[path.stem] = Partner(read_partner_file(path, known_types), path)
        except PartnerFileError as exc:
            problems.extend(exc.problems)
    return partners, problems


class PartnerDirectory:
    """The partners of this node, re-readable while the node runs."""

    def __init__(self, directory: Path, known_types: Collection[str],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.directory = directory
        self._known_types = frozenset(known_types)
        self._clock = clock
        self._lock = threading.Lock()
        self._partners: dict[str, Partner] = {}
        self._policies: dict[str, PartnerPolicy] = {}
        self._seen: tuple[tuple[str, int, int], ...] = ()

    @classmethod
    def load(cls, directory: Path, known_types: Collection[str],
             clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> PartnerDirectory:
        """Read the directory at start; any bad file raises :class:`PartnerFileError`."""
        directory_ = cls(directory, known_types, clock)
        problems = directory_.reload()
        if problems:
            raise PartnerFileError(problems)
        return directory_

    def reload(self) -> list[str]:
        """Re-read every file; bad partners are dropped (fail closed). Returns the problems."""
        stamp = self._stamp()
        partners, problems = check_partner_files(self.directory, self._known_types)
        policies = {node: p.policy() for node, p in partners.items()}
        with self._lock:
            self._partners, self._policies, self._seen = partners, policies, stamp
        return problems

    def _stamp(self) -> tuple[tuple[str, int, int], ...]:
        if not self.directory.is_dir():
            return ()
        found = []
        for path in sorted(self.directory.glob("*.toml")):
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            found.append((path.name, info.st_mtime_ns, info.st_size))
        return tuple(found)

    def reload_if_changed(self) -> list[str] | None:
        """Re-read the files if one was added, changed or removed since the last reading (a
        key pinned by ``gateway partners refresh`` in another process); None if not."""
        if self._stamp() == self._seen:
            return None
        return self.reload()

    def get(self, node_id: str) -> Partner | None:
        """The partner ``node_id``, or None."""
        return self._partners.get(node_id)

    def policy(self, node_id: str) -> PartnerPolicy | None:
        """The inbound policy of ``node_id``, or None if it is not a partner."""
        return self._policies.get(node_id)

    def all(self) -> list[Partner]:
        """Every partner, by node id."""
        return [self._partners[k] for k in sorted(self._partners)]

    def pinned(self, node_id: str, kid: str) -> PinnedKey | None:
        """A pinned key of a partner, or None."""
        policy = self._policies.get(node_id)
        return policy.key(kid) if policy else None


def select_keys(partner_id: str, jwks: dict[str, Any], thumbprints: Iterable[str]
                ) -> list[KeyEntry]:
    """The keys of a fetched JWK Set whose thumbprints were handed over out of band, each
    with its purpose: a key the set marks for checkpoints only (PROTOCOL.md §4.8) is pinned
    so.

    Every thumbprint must match exactly one key of the set; otherwise nothing is pinned.
    """
    wanted = list(dict.fromkeys(thumbprints))
    if not wanted:
        raise PartnerFileError([said(N_("at least one --thumbprint is needed"))])
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list):
        raise PartnerFileError([said(N_("the JWK Set has no 'keys' array"))])
    chosen: dict[str, KeyEntry] = {}
    for jwk in keys:
        if not isinstance(jwk, dict):
            continue
        try:
            public = {k: str(v) for k, v in jwk.items() if k in ("kty", "crv", "x", "y")}
            jwk_to_public_key(public)
            actual = thumbprint(public)
        except JwkError:
            continue
        if actual not in wanted:
            continue
        kid = jwk.get("kid")
        problems = []
        if not isinstance(kid, str) or ids.kid_node(kid) != partner_id:
            problems.append(said(N_("key {actual}: kid {kid!r} is not a key id of {partner_id}"),
                                 actual=actual, kid=kid, partner_id=partner_id))
        if jwk.get("use", "sig") != "sig":
            problems.append(said(N_("key {actual}: use is {use!r}, not 'sig'"), actual=actual,
                                 use=jwk.get("use")))
        if "d" in jwk:
            problems.append(said(N_("key {actual}: the JWK Set carries a private key; refusing "
                                    "it"), actual=actual))
        try:
            marked = checkpoints_only(jwk)
        except JwkError as exc:
            problems.append(said(N_("key {actual}: {error}"), actual=actual, error=exc))
            marked = False
        if problems:
            raise PartnerFileError(problems)
        assert isinstance(kid, str)
        chosen[actual] = KeyEntry(kid=kid, thumbprint=actual, jwk=public,
                                  checkpoints_only=marked)
    missing = [t for t in wanted if t not in chosen]
    if missing:
        raise PartnerFileError([said(N_("thumbprint {thumbprint} matches no key in the JWK Set"),
                                     thumbprint=t) for t in missing])
    return list(chosen.values())


def enrol_partner(profile_path: Path, partners_dir: Path, known_types: Collection[str],
                  keys: list[KeyEntry], endpoint: str | None,
                  delivery: Literal["push", "pull"] | None = None,
                  poll_seconds: int | None = None) -> Path:
    """Write ``<partners dir>/<id>.toml`` from a profile plus pinned keys; return its path.

    A partner enrolled before keeps its keys; a new key is added; a kid that comes back with
    another key is refused (that is a key substitution, not a rotation).
    """
    profile = read_partner_file(profile_path, known_types, profile=True)
    target = partners_dir / f"{profile.id}.toml"
    existing = read_partner_file(target, known_types) if target.exists() else None
    merged = _merged(existing.keys if existing else [], keys)
    data = profile.model_dump(exclude_none=True, exclude={"keys"})
    data["delivery"] = delivery or (existing.delivery if existing else profile.delivery)
    if endpoint:
        data["endpoint"] = endpoint.rstrip("/")
    elif existing and existing.endpoint:
        data["endpoint"] = existing.endpoint
    if poll_seconds is not None:
        data["poll_seconds"] = poll_seconds
    elif existing is not None:
        data["poll_seconds"] = existing.poll_seconds
    if existing is not None:
        data["key_continuity"] = existing.key_continuity
    data["keys"] = [k.as_toml() for k in merged]
    _write_partner_file(target, data, profile.id, known_types)
    return target


def _merged(pinned: list[KeyEntry], new: list[KeyEntry]) -> list[KeyEntry]:
    """The pinned keys plus the new ones. What contradicts the pins is refused, nothing
    merged: a kid that comes back with another key (a key substitution, not a rotation), a
    pinned key under another kid, or a key pinned for checkpoints only offered for every use
    (PROTOCOL.md §4.8). A pinned key newly marked for checkpoints only is narrowed so (its
    window and revocation kept)."""
    merged = {k.kid: k for k in pinned}
    kid_of = {k.thumbprint: k.kid for k in pinned}
    for key in new:
        old = merged.get(key.kid)
        if old is not None and old.thumbprint != key.thumbprint:
            raise PartnerFileError([said(N_("{kid} is pinned with another key ({thumbprint}); "
                                            "revoke and re-enrol deliberately"), kid=key.kid,
                                         thumbprint=old.thumbprint)])
        if kid_of.get(key.thumbprint, key.kid) != key.kid:
            raise PartnerFileError([said(N_("the key {thumbprint} is pinned as {pinned}, not "
                                            "{kid}"), thumbprint=key.thumbprint,
                                         pinned=kid_of[key.thumbprint], kid=key.kid)])
        if old is not None and old.checkpoints_only and not key.checkpoints_only:
            raise PartnerFileError([said(N_("{kid} is pinned for checkpoints only; it is not "
                                            "pinned again for every use"), kid=key.kid)])
        if old is not None and key.checkpoints_only and not old.checkpoints_only:
            merged[key.kid] = old.model_copy(update={"checkpoints_only": True})
        merged.setdefault(key.kid, key)
    return list(merged.values())


def _write_partner_file(target: Path, data: dict[str, Any], partner_id: str,
                        known_types: Collection[str]) -> None:
    candidate = PartnerFile.model_validate(data)
    problems = _problems_of(candidate, partner_id, known_types, profile=False)
    if problems:
        raise PartnerFileError([said(N_("{path}: {error}"), path=target, error=p)
                                for p in problems])
    write_atomically(target, tomli_w.dumps(_toml_ready(data)).encode(), 0o644)


def pin_keys(partners_dir: Path, partner_id: str, known_types: Collection[str],
             keys: list[KeyEntry]) -> Path:
    """Add keys to an enrolled partner's file (key continuity, or a thumbprint handed over);
    the rest of the file is kept as it is."""
    target = partners_dir / f"{partner_id}.toml"
    existing = read_partner_file(target, known_types)
    data = existing.model_dump(exclude_none=True)
    data["keys"] = [k.as_toml() for k in _merged(existing.keys, keys)]
    _write_partner_file(target, data, partner_id, known_types)
    return target


def _toml_ready(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dict):
        return {k: _toml_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_toml_ready(v) for v in value]
    return value


def proof_keys(node_id: str, own: Iterable[PublishedKey], partners: Iterable[Partner]
               ) -> list[dict[str, Any]]:
    """The keys a proof bundle (PROTOCOL.md §4.8) is made and checked with on a node, as
    the bundle's ``keys.json`` lists them: this node's published keys and the keys it
    pinned for ``partners``, a revoked one left out (it proves nothing any more)."""
    keys = [{"node": node_id, "kid": k.kid, "thumbprint": k.thumbprint,
             "jwk": {**k.jwk, **(checkpoint_marking() if k.checkpoints else {})}}
            for k in own]
    for partner in partners:
        keys.extend({"node": partner.node_id, "kid": k.kid, "thumbprint": k.thumbprint,
                     "jwk": {**k.jwk, **(checkpoint_marking() if k.checkpoints_only else {})}}
                    for k in partner.file.keys if not k.revoked)
    return keys
