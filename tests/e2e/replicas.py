"""Several replicas of one node on PostgreSQL behind HAProxy, as real processes on loopback.

The replicas share the node's folder (keys, partner files) and one PostgreSQL database of
the machine's server (127.0.0.1:5432, a database made for the test and dropped after);
HAProxy (Debian's package, installed by ``make system``) balances them and checks each on
``/bx/v1/health``, run from the shipped ``deploy/haproxy.cfg`` (only its addresses changed).
The replicas believe the client address HAProxy passes on, from loopback's 127.0.0.1 only
(``BX_TRUSTED_PROXIES``): a test's clients that stand for other machines connect from other
loopback addresses (127.0.0.2, ...).
"""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
import shutil
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from tests.e2e.federation import NodeProcess, free_port, wait_for

SERVER = "postgresql://postgres@127.0.0.1:5432"
SHIPPED_HAPROXY = Path(__file__).resolve().parents[2] / "deploy" / "haproxy.cfg"


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
    """The shipped ``deploy/haproxy.cfg`` on loopback: bound to ``front``, before ``servers``
    (name, port) instead of compose's containers, without compose's DNS, checking every
    300 ms (the tests kill replicas) and with its stats page on ``stats`` (else none).
    Everything else (what it passes on, retries, checks) is the file operators run."""
    shipped = SHIPPED_HAPROXY.read_text()
    out: list[str] = []
    section = ""
    seen: set[str] = set()
    for read in shipped.splitlines():
        line, words = read, read.split()
        if line and not line[0].isspace() and words:
            section = words[0]
            if section == "resolvers" or (section == "listen" and stats is None):
                continue
        elif section == "resolvers" or (section == "listen" and stats is None):
            continue
        if words[:1] == ["bind"]:
            port = front if section == "frontend" else stats
            line = f"    bind 127.0.0.1:{port}"
            seen.add(f"bind {section}")
        elif words[:1] == ["default-server"]:
            line = line.replace("inter 1s", "inter 300ms")
            seen.add("default-server")
        elif words[:1] == ["server"]:
            if "server" not in seen:
                out.extend(f"    server {name} 127.0.0.1:{port} check" for name, port in servers)
            seen.add("server")
            continue
        out.append(line)
    wanted = {"bind frontend", "default-server", "server"} | (
        {"bind listen"} if stats is not None else set())
    assert seen == wanted, f"deploy/haproxy.cfg changed shape: {wanted - seen} not found"
    return "\n".join(out) + "\n"


@dataclass
class Replica(NodeProcess):
    """One ``gateway serve`` of a node run as several: its own port, name and log."""

    name: str = "r1"

    @property
    def log_path(self) -> Path:
        return self.home / f"{self.name}.log"


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
               "BX_PUBLIC_URL": self.url,
               "BX_TRUSTED_PROXIES": "127.0.0.1",  # HAProxy's address towards the replicas
               # As docker-compose.replicas.yml: on SIGTERM, health 503 until HAProxy has
               # seen it (2 checks 1 s apart), then close.
               "BX_STOP_DRAIN_S": "3"}
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
        with ThreadPoolExecutor(len(self.replicas)) as pool:  # each drains for seconds
            list(pool.map(lambda replica: replica.stop(), self.replicas))
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
