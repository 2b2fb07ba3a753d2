"""The node's settings: one pydantic-settings class, read once from ``BX_*`` and ``.env``.

NODE.md is normative for the names and defaults. A missing or wrong value stops the program
with one line that names the variable (:class:`SettingsError`).
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from pathlib import Path
from typing import Annotated, Final

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The repository holds the schemas and the partner profiles beside the package.
REPOSITORY: Final = Path(__file__).resolve().parent.parent
NODE_ID_PATTERN: Final = r"^[a-z]{2}\.[a-z0-9-]{2,40}$"


class SettingsError(Exception):
    """A setting that is missing or wrong; ``str()`` is one line naming the variable."""


class Settings(BaseSettings):
    """Every ``BX_`` variable of NODE.md, with its default."""

    model_config = SettingsConfigDict(env_prefix="BX_", env_file=".env",
                                      env_file_encoding="utf-8", extra="ignore",
                                      validate_default=True)

    node_id: Annotated[str, Field(pattern=NODE_ID_PATTERN)]
    data_dir: Path | None = None
    database_url: str | None = None
    key_file: Path | None = None
    partners_dir: Path | None = None
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8600
    public_url: str | None = None
    secret_key_file: Path | None = None
    #: This process's name among several replicas of one node (leases, claims, logs).
    replica: Annotated[str, Field(min_length=1, max_length=64,
                                  pattern=r"^[A-Za-z0-9._:-]+$")] = Field(
        default_factory=lambda: re.sub(r"[^A-Za-z0-9._:-]", "-",
                                       f"{socket.gethostname()[:40]}-{os.getpid()}"))
    #: Added to NODE.md's names: the token a metrics scraper sends (``Authorization: Bearer``)
    #: to read ``/metrics``; created at first start (mode 0600). Nobody else may read it.
    metrics_token_file: Path | None = None
    #: Not in NODE.md: how often (seconds) the node looks whether its audit log has grown,
    #: signs a checkpoint and sends it to the partners that have not cosigned it (PROTOCOL.md
    #: §4.8: at most every minute; each partner at most every 10 minutes).
    checkpoint_every_s: Annotated[float, Field(ge=60)] = 60
    #: Not in NODE.md: on ``SIGTERM``, how long (seconds) the node keeps serving while its
    #: health check answers 503 ``stopping``, so that a load balancer stops sending it requests
    #: before it closes its connections (docs/operations.md). 0 (the default): it stops at once,
    #: as a single node should; replicas behind a balancer want more than the balancer's time to
    #: mark a server down. A second ``SIGTERM``, or ``SIGINT``, stops it at once.
    stop_drain_s: Annotated[float, Field(ge=0, le=120)] = 0
    #: Not in NODE.md: the reverse proxies in front (addresses or networks, separated by
    #: commas) whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` the node believes: the
    #: client address a request from one of them carries is the caller's (the login
    #: throttle's key, docs/operations.md). Empty (the default): nobody's, and the caller is
    #: the address that connected.
    trusted_proxies: str = ""
    #: Not in NODE.md: where the document schemas and partner profiles are read from.
    schemas_dir: Path = REPOSITORY / "schemas"
    profiles_dir: Path = REPOSITORY / "partners"
    #: Not in NODE.md: public holidays shipped per country and year (``calendars/<CC>/``).
    calendars_dir: Path = REPOSITORY / "calendars"
    #: Not in NODE.md: the compiled translation catalogs (``translations/<locale>/``).
    translations_dir: Path = REPOSITORY / "translations"

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite+aiosqlite://",
                                                        "postgresql+asyncpg://")):
            raise ValueError("must be a sqlite+aiosqlite:// or postgresql+asyncpg:// URL")
        return value

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/") if value else value

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: str) -> str:
        items = [item.strip() for item in value.split(",") if item.strip()]
        for item in items:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network (a.b.c.d, "
                                 "a.b.c.0/24, an IPv6 one); separate several with commas"
                                 ) from None
        return ",".join(items)

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if self.data_dir is None:
            self.data_dir = Path("var") / self.node_id
        if self.database_url is None:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'gateway.db'}"
        if self.key_file is None:
            self.key_file = self.data_dir / "keys" / "signing.pem"
        if self.partners_dir is None:
            self.partners_dir = self.data_dir / "partners"
        if self.public_url is None:
            self.public_url = f"http://{self.host}:{self.port}/bx/v1"
        if self.secret_key_file is None:
            self.secret_key_file = self.data_dir / "keys" / "secret.key"
        if self.metrics_token_file is None:
            self.metrics_token_file = self.data_dir / "keys" / "metrics.token"
        return self

    # The defaults are filled in by the validator, so these are never None afterwards.
    @property
    def data_path(self) -> Path:
        """``BX_DATA_DIR`` after defaults."""
        assert self.data_dir is not None
        return self.data_dir

    @property
    def key_path(self) -> Path:
        """``BX_KEY_FILE`` after defaults."""
        assert self.key_file is not None
        return self.key_file

    @property
    def secret_key_path(self) -> Path:
        """``BX_SECRET_KEY_FILE`` after defaults."""
        assert self.secret_key_file is not None
        return self.secret_key_file

    @property
    def metrics_token_path(self) -> Path:
        """``BX_METRICS_TOKEN_FILE`` after defaults."""
        assert self.metrics_token_file is not None
        return self.metrics_token_file

    @property
    def proxies(self) -> list[str]:
        """``BX_TRUSTED_PROXIES`` as a list (empty: no proxy is believed)."""
        return [item for item in self.trusted_proxies.split(",") if item]

    @property
    def partners_path(self) -> Path:
        """``BX_PARTNERS_DIR`` after defaults."""
        assert self.partners_dir is not None
        return self.partners_dir


def _variable(loc: tuple[int | str, ...]) -> str:
    field = str(loc[0]) if loc else ""
    return f"BX_{field.upper()}" if field else "BX_* settings"


def load_settings(**overrides: object) -> Settings:
    """Read the settings; raise :class:`SettingsError` naming the first bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        what = "is required" if first["type"] == "missing" else f"is wrong: {first['msg']}"
        raise SettingsError(f"setting {_variable(first['loc'])} {what}") from exc
