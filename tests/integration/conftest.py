"""The app in-process over a real SQLite file, with a partner whose keys the test holds."""

from __future__ import annotations

import asyncio
import atexit
import functools
import shutil
import sqlite3
import tempfile
import tomllib
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomli_w
from argon2 import PasswordHasher
from fastapi import FastAPI

from gateway.access import users
from gateway.protocol.jose import SigningKey, public_jwk, thumbprint
from gateway.settings import Settings, load_settings
from gateway.store.database import create_engine, migrate
from gateway.trust.keys import KeyStore
from gateway.web.app import create_app
from tests.conftest import ALL_TYPES, NOW, REPO, World


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True, scope="session")
def quick_password_hashes() -> Iterator[None]:
    """In-process, passwords are hashed with Argon2id at the library's lowest cost: the same
    code (hash, verify, rehash check) in a millisecond instead of a fifth of a second. Every
    test about processes (tests/e2e) runs the node's own cost."""
    saved = users._hasher
    users._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    users._hasher = saved


@functools.cache
def migrated_database() -> Path:
    """A database file at the newest schema, made once per test process: each node of a
    test starts from a copy (its own file, as a new node's) instead of migrating anew."""
    folder = Path(tempfile.mkdtemp(prefix="bx-migrated-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "gateway.db"

    async def migrated() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as thread:  # its own event loop, whoever calls
        thread.submit(asyncio.run, migrated()).result()
    return path


def fresh_database(settings: Settings) -> None:
    """A new node's database in ``settings``' data folder, at the newest schema."""
    settings.data_path.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(migrated_database(), settings.data_path / "gateway.db")


def write_partner(directory: Path, node: str, key: SigningKey, **changes: Any) -> None:
    """A partner file pinning ``key``, built from the repository's profile."""
    profile = tomllib.loads((REPO / "partners" / f"{node}.toml").read_text(encoding="utf-8"))
    jwk = public_jwk(key.public_key())
    profile.update(endpoint="http://127.0.0.1:9/bx/v1", may_send=sorted(ALL_TYPES),
                   keys=[{"kid": key.kid, "thumbprint": thumbprint(jwk), "jwk": jwk}])
    profile.update(changes)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{node}.toml").write_text(tomli_w.dumps(profile), encoding="utf-8")


@dataclass
class Receiver:
    """``kh.ahtjp`` running in-process; ``world`` signs as ``vn.c02``."""

    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings
    world: World

    @property
    def db(self) -> Path:
        return self.settings.data_path / "gateway.db"

    def count(self, table: str, where: str = "1=1") -> int:
        with sqlite3.connect(self.db) as conn:
            value: int = conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0]
        return value

    async def post(self, raw: bytes, bearer: str | None = "") -> httpx.Response:
        token = self.world.bearer() if bearer == "" else bearer
        headers = {"Content-Type": "application/jose+json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = await self.client.post("/bx/v1/messages", content=raw, headers=headers)
        if response.status_code == 202:
            await self.attached()
        return response

    async def attached(self, within: float = 5.0) -> None:
        """Wait until the case work has attached every accepted message (it runs right after
        the receipt's commit, in the node's own task)."""
        deadline = asyncio.get_running_loop().time() + within
        while self.count("messages", "attach_pending") > 0:
            assert asyncio.get_running_loop().time() < deadline, "a message was not attached"
            await asyncio.sleep(0.005)


async def start_receiver(tmp_path: Path, world: World, **partner_changes: Any
                         ) -> AsyncIterator[Receiver]:
    settings = load_settings(node_id="kh.ahtjp", data_dir=tmp_path / "kh.ahtjp")
    fresh_database(settings)
    store = KeyStore(settings.key_path, settings.node_id)
    generated = store.generate("EdDSA", "2026-11", NOW)
    world.receiver_key = generated
    write_partner(settings.partners_path, "vn.c02", world.sender_key, **partner_changes)
    app = create_app(settings, clock=world.clock, run_worker=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kh.test") as client:
            yield Receiver(app, client, settings, world)


@pytest.fixture
async def receiver(tmp_path: Path, world: World) -> AsyncIterator[Receiver]:
    async for running in start_receiver(tmp_path, world):
        yield running


def scraper(receiver: Receiver) -> dict[str, str]:
    """The headers of the configured metrics scraper."""
    token = receiver.settings.metrics_token_path.read_text(encoding="utf-8").strip()
    return {"Authorization": f"Bearer {token}"}


def fixed(now: datetime) -> Any:
    return lambda: now


#: People's names as the console shows them (their login names are never shown in their place).
DISPLAY_NAMES = {"sophea": "Heng Sophea", "dara": "Chan Dara", "boss": "Kim Sovann"}


@dataclass
class Desk:
    """People at ``kh.ahtjp`` using the local API with their own sessions."""

    receiver: Receiver
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def client(self) -> httpx.AsyncClient:
        return self.receiver.client

    async def add_user(self, username: str, role: str, unit: str = "kh.ahtjp",
                       password: str = "a long enough password") -> dict[str, str]:
        """Create an account and log it in; answers the headers of its session."""
        cw = self.receiver.app.state.cases
        async with cw.node.engine.begin() as conn:
            await users.add_user.within(conn, cw, "test", username=username,
                                        display_name=DISPLAY_NAMES.get(username,
                                                                       username.title()),
                                        role=role, unit=unit,
                                        password=password)
        self.passwords[username] = password
        return await self.login(username)

    async def login(self, username: str) -> dict[str, str]:
        response = await self.client.post("/api/session", json={
            "username": username, "password": self.passwords[username]})
        assert response.status_code == 200, response.text
        self.client.cookies.clear()  # the console's cookie; the API uses the bearer token
        self.headers[username] = {"Authorization": f"Bearer {response.json()['token']}"}
        return self.headers[username]

    async def later(self, delta: timedelta) -> None:
        """Move the node's clock on; sessions lapse, so everyone logs in again."""
        self.receiver.world.now += delta
        for username in list(self.headers):
            await self.login(username)

    async def call(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers[who], **kwargs.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def ok(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.call(who, method, path, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        return response.json()


@pytest.fixture
async def desk(receiver: Receiver) -> Desk:
    """A BLO officer and a supervisor of ``kh.ahtjp``, logged in."""
    made = Desk(receiver)
    await made.add_user("officer", "blo-officer")
    await made.add_user("chief", "supervisor")
    return made
