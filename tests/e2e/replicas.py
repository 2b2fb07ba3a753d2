"""Several replicas of one node on PostgreSQL behind HAProxy, as real processes on loopback.

The replicas share the node's folder (keys, partner files) and one PostgreSQL database of
the machine's server (127.0.0.1:5432, a database made for the test and dropped after);
HAProxy (Debian's package, installed by ``make system``) balances them and checks each on
``/bx/v1/health``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from tests.e2e.federation import NodeProcess, free_port, wait_for

SERVER = "postgresql://postgres@127.0.0.1:5432"


async def _admin(sql: str) -> None:
    admin = await asyncpg.connect(f"{SERVER}/test")
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


def create_database() -> str:
    """A new database on the machine's PostgreSQL; its name."""
    name = f"bx_e2e_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    return name


def drop_database(name: str) -> None:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def pg_values(database: str, sql: str) -> list[object]:
    """The first column of every row of ``sql``."""
    async def run() -> list[object]:
        conn = await asyncpg.connect(f"{SERVER}/{database}")
        try:
            return [row[0] for row in await conn.fetch(sql)]
        finally:
            await conn.close()

    return asyncio.run(run())


def haproxy_config(front: int, servers: list[tuple[str, int]], stats: int | None = None) -> str:
    """HAProxy on loopback before ``servers`` (name, port), checking each on its health."""
    lines = "\n".join(f"    server {name} 127.0.0.1:{port} check" for name, port in servers)
    config = HAPROXY_CONFIG.format(front=front, servers=lines)
    if stats is not None:
        config += STATS.format(stats=stats)
    return config


@dataclass
class Replica(NodeProcess):
    """One ``gateway serve`` of a node run as several: its own port, name and log."""

    name: str = "r1"

    @property
    def log_path(self) -> Path:
        return self.home / f"{self.name}.log"


HAPROXY_CONFIG = """
global
    maxconn 4000
    tune.bufsize 65536
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch
    # Only a request that never reached a replica is tried again on another: a message
    # whose replica died after reading it is answered 502, and its sender tries again with
    # a new token (the receiver's deduplication answers with the original receipt).
    retry-on conn-failure
frontend node
    bind 127.0.0.1:{front}
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /bx/v1/health
    http-check expect status 200
    default-server inter 300ms fall 2 rise 2
{servers}
"""
STATS = """
listen stats
    bind 127.0.0.1:{stats}
    stats enable
    stats uri /stats
"""


@dataclass
class ReplicaSet:
    """``count`` replicas of ``node_id`` behind one HAProxy."""

    node_id: str
    home: Path
    database: str
    count: int = 3
    front: int = field(default_factory=free_port)
    stats: int = field(default_factory=free_port)
    replicas: list[Replica] = field(default_factory=list)
    haproxy: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        env = {"BX_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/"
                                  f"{self.database}",
               "BX_PUBLIC_URL": self.url}
        self.replicas = [Replica(self.node_id, self.home, name=f"r{i + 1}",
                                 extra_env={**env, "BX_REPLICA": f"r{i + 1}"})
                         for i in range(self.count)]

    @property
    def url(self) -> str:
        """What partners use: HAProxy's front."""
        return f"http://127.0.0.1:{self.front}/bx/v1"

    @property
    def first(self) -> Replica:
        return self.replicas[0]

    def start(self) -> None:
        for replica in self.replicas:
            replica.start()
        self.start_haproxy()

    def start_haproxy(self) -> None:
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        config = self.home / "haproxy.cfg"
        config.write_text(haproxy_config(self.front, [(r.name, r.port) for r in self.replicas],
                                         self.stats))
        log = (self.home / "haproxy.log").open("ab")
        self.haproxy = subprocess.Popen([haproxy, "-db", "-f", str(config)], stdout=log,
                                        stderr=log)
        log.close()
        wait_for(lambda: all(s == "UP" for s in self.states().values()),
                 what="HAProxy to see every replica up", timeout=30)

    def states(self) -> dict[str, str]:
        """HAProxy's view: each replica's status (UP, DOWN, ...)."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.stats}/stats;csv", timeout=2).text
        except httpx.HTTPError:
            return {}
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        return {row["svname"]: row["status"].split()[0] for row in rows
                if row["pxname"] == "replicas" and row["svname"] not in ("FRONTEND", "BACKEND")}

    def stop(self) -> None:
        for replica in self.replicas:
            replica.stop()
        if self.haproxy is not None:
            self.haproxy.send_signal(signal.SIGTERM)
            try:
                self.haproxy.wait(10)
            except subprocess.TimeoutExpired:
                self.haproxy.kill()
            self.haproxy = None

    def query_count(self, sql: str) -> int:
        return int(str(pg_values(self.database, sql)[0]))

    def query_values(self, sql: str) -> list[object]:
        """The first column of every row."""
        return pg_values(self.database, sql)
