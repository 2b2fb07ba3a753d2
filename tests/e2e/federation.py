"""Real nodes for end-to-end tests: each a ``gateway serve`` process on loopback with its own
data folder, keys made and pinned through the CLI as operators do."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from gateway.cli import app  # with every command registered
from gateway.protocol.envelope import Envelope, parse_body, parse_envelope
from gateway.protocol.jose import thumbprint
from gateway.store.crypto import load_sealer
from gateway.store.messages import RAW_COLUMN

GATEWAY = str(Path(sys.executable).with_name("gateway"))
#: One set-up command at a time runs in the test's process (see ``NodeProcess.setup``): it
#: borrows the process's environment, folder and standard streams while it runs.
_SETUP = threading.Lock()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports, below the range the system hands out
    for ``free_port`` (whose ports another test may take at any moment): ``gateway demo``
    serves on ``--base-port`` and the ports after it."""
    handed_out = Path("/proc/sys/net/ipv4/ip_local_port_range")
    low = int(handed_out.read_text().split()[0]) if handed_out.exists() else 32768
    for base in random.sample(range(20000, low - count, count), 200):
        with contextlib.ExitStack() as held:
            try:
                for port in range(base, base + count):
                    sock = held.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return base
    raise RuntimeError(f"no {count} consecutive free ports below {low}")


@dataclass
class NodeProcess:
    """One node: its folder, its port, and (while serving) its process."""

    node_id: str
    home: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bx/v1"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_path(self) -> Path:
        return self.home / "node.log"

    def env(self) -> dict[str, str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("BX_")}
        # checkpoints on demand only (gateway audit checkpoint --new, a proof): the tests
        # count the messages they exchange
        environment.update(BX_NODE_ID=self.node_id, BX_DATA_DIR=str(self.data_dir),
                           BX_PORT=str(self.port), BX_CHECKPOINT_EVERY_S="86400",
                           **self.extra_env)
        return environment

    def cli(self, *args: str, check: bool = True, timeout: float = 120,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        self.home.mkdir(parents=True, exist_ok=True)
        result = subprocess.run([GATEWAY, *args], cwd=self.home, env=self.env(), text=True,
                                capture_output=True, timeout=timeout, check=False,
                                input=stdin)
        if check and result.returncode != 0:
            raise AssertionError(f"gateway {' '.join(args)} failed: {result.stderr}")
        return result

    def setup(self, *args: str, stdin: str | None = None) -> str:
        """A set-up command (keys, partners, users) as :meth:`cli` runs it, in the node's
        folder with the node's settings, but inside this process; what it printed. What a
        test builds on, not what it tests: a command's own process costs a second of CPU to
        start (imports), hundreds of them a run. The commands themselves are run as
        processes where they are the subject (tests/e2e/test_cli.py and the others that
        call :meth:`cli`)."""
        self.home.mkdir(parents=True, exist_ok=True)
        settings: dict[str, str | None] = {name: None for name in os.environ
                                           if name.startswith("BX_")}
        settings.update((k, v) for k, v in self.env().items() if k.startswith("BX_"))
        with _SETUP:
            here = Path.cwd()
            os.chdir(self.home)
            try:
                with ThreadPoolExecutor(1) as alone:  # its own thread: no event loop runs
                    result = alone.submit(CliRunner().invoke, app, list(args), input=stdin,
                                          env=settings).result()
            finally:
                os.chdir(here)
        if result.exit_code != 0:
            raise AssertionError(f"gateway {' '.join(args)} failed ({result.exit_code}): "
                                 f"{result.output}") from result.exception
        return result.stdout

    def generate_key(self, alg: str = "EdDSA") -> str:
        out = self.setup("keys", "generate", "--alg", alg)
        return out.split("thumbprint: ")[1].split()[0]

    def thumbprint(self) -> str:
        """The thumbprint of the key that signs."""
        line = self.setup("keys", "show").splitlines()[0]
        return line.split()[2]

    def thumbprints(self) -> list[str]:
        """Every published key's thumbprint (an ES256 node's checkpoint key included), as
        its operator hands them over."""
        lines = self.setup("keys", "show").split("\n{", 1)[0].splitlines()
        return [line.split()[2] for line in lines]

    def published_thumbprints(self) -> list[str]:
        """What :meth:`thumbprints` prints, read from the running node's JWK Set (a command
        costs a second of CPU to start, and a federation is built in every e2e module)."""
        response = httpx.get(f"http://127.0.0.1:{self.port}/bx/v1/.well-known/jwks.json",
                             timeout=30)
        response.raise_for_status()
        return [thumbprint(key) for key in response.json()["keys"]]

    def cosigned_by(self, partner: str) -> bool:
        """Whether ``partner`` has cosigned this node's latest checkpoint, read from the
        database: what to poll (``gateway audit checkpoint`` shows it once it holds)."""
        with sqlite3.connect(self.data_dir / "gateway.db") as conn:
            row = conn.execute("SELECT cosigned_size >= (SELECT max(size) FROM "
                               "audit_checkpoints) FROM checkpoint_witnesses WHERE partner = ?",
                               (partner,)).fetchone()
        return bool(row and row[0])

    def enrol(self, other: NodeProcess, delivery: str = "push", poll_seconds: int = 0,
              thumbprints: list[str] | None = None) -> None:
        handed = [arg for thumb in thumbprints or other.thumbprints()
                  for arg in ("--thumbprint", thumb)]
        self.setup("partners", "enrol", other.node_id, *handed,
                   "--endpoint", other.url, "--fetch", "--delivery", delivery,
                   "--poll-seconds", str(poll_seconds))

    def start(self) -> None:
        self.launch()
        self.wait_healthy()

    def launch(self) -> None:
        """Start ``gateway serve`` without waiting for it to answer."""
        self.home.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen([GATEWAY, "serve"], cwd=self.home, env=self.env(),
                                        stdout=log, stderr=log)
        log.close()

    def wait_healthy(self, timeout: float = 60) -> None:
        # a fresh checkout compiles every module at a node's first start: on two shared
        # cores with another worker's nodes starting, that took over 30 s
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"{self.node_id} exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.node_id} did not become healthy")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        code = self.process.returncode
        self.process = None
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def api_token(self) -> str:
        return (self.data_dir / "keys" / "api.token").read_text().strip()

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=f"http://127.0.0.1:{self.port}/api",
                            headers={"Authorization": f"Bearer {self.api_token()}"}, timeout=30)

    def add_user(self, username: str, role: str, unit: str | None = None,
                 password: str = "a long enough password") -> None:
        """An account made with the CLI, as an operator would."""
        self.setup("users", "add", username, "--role", role, "--unit", unit or self.node_id,
                   "--name", username.title(), "--password-stdin", stdin=password + "\n")

    def session(self, username: str, password: str = "a long enough password"
                ) -> httpx.Client:
        """An API client logged in as ``username``."""
        response = httpx.post(f"http://127.0.0.1:{self.port}/api/session",
                              json={"username": username, "password": password}, timeout=30)
        assert response.status_code == 200, response.text
        return httpx.Client(base_url=f"http://127.0.0.1:{self.port}/api", timeout=30,
                            headers={"Authorization": f"Bearer {response.json()['token']}"})

    def received(self, message_id: str) -> Envelope:
        """The signed message as this node received and stored it (its bytes, unsealed with
        the node's own secret key): what the partner's document really says."""
        with sqlite3.connect(self.data_dir / "gateway.db") as conn:
            row = conn.execute("SELECT raw FROM messages WHERE message_id = ? AND direction = "
                               "'in'", (message_id,)).fetchone()
        assert row is not None, f"{self.node_id} has not received {message_id}"
        sealer = load_sealer(self.data_dir / "keys" / "secret.key")
        return parse_envelope(parse_body(sealer.open(bytes(row[0]), RAW_COLUMN)))

    def add_users(self, *users: tuple[str, str, str | None],
                  password: str = "a long enough password") -> None:
        """Several accounts (user name, role, unit or None), one after the other (set-up
        commands run one at a time: see :meth:`setup`)."""
        for username, role, unit in users:
            self.add_user(username, role, unit=unit, password=password)

    def messages(self, status: str | None = None) -> list[str]:
        """What ``gateway messages`` prints, a line a message (a command: to check what the
        operator reads, not to poll; poll :meth:`states`)."""
        args = ["messages"] + (["--status", status] if status else [])
        return [line for line in self.cli(*args).stdout.splitlines() if line.strip()]

    def states(self, direction: str) -> dict[str, tuple[str, str | None]]:
        """Each message's (state, last delivery error) by id, ``in`` or ``out``, read from the
        database: what to poll while a delivery goes on (:meth:`messages` starts a command,
        a second of CPU each time)."""
        with sqlite3.connect(self.data_dir / "gateway.db") as conn:
            rows = conn.execute("SELECT message_id, state, last_error FROM messages "
                                "WHERE direction = ?", (direction,)).fetchall()
        return {message_id: (state, error) for message_id, state, error in rows}


def make_federation(root: Path, specs: dict[str, str],
                    algs: dict[str, str] | None = None) -> dict[str, NodeProcess]:
    """Running nodes with keys, each enrolled at every other one as the operators would.

    ``specs`` maps node id to its delivery mode in the others' directories; a node that is
    ``pull`` for the others polls them every second. ``algs``: a node's signing algorithm
    when not EdDSA. Keys and enrolments are set-up commands, one at a time (see
    :meth:`NodeProcess.setup`); the nodes start side by side.
    """
    nodes = {node_id: NodeProcess(node_id, root / node_id) for node_id in specs}
    for node in nodes.values():
        node.generate_key((algs or {}).get(node.node_id, "EdDSA"))
        node.launch()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: n.wait_healthy(), nodes.values()))
        handed = dict(zip(nodes, pool.map(lambda n: n.published_thumbprints(),
                                          nodes.values()),
                          strict=True))  # as each operator hands them over, once (what
        # `gateway keys show` prints: tests/e2e/test_exchange.py checks that they agree)
    for node in nodes.values():
        for other in nodes.values():
            if other is not node:
                poll = specs[node.node_id] == "pull"
                node.enrol(other, delivery=specs[other.node_id],
                           poll_seconds=1 if poll else 0, thumbprints=handed[other.node_id])
    for node in nodes.values():
        with node.api() as api:
            assert api.post("/admin/partners/reload").status_code == 200
    return nodes


def handed_over(nodes: dict[str, NodeProcess], out: Path) -> Path:
    """The keys the agencies hand a court, in the format of a proof bundle's keys.json: each
    node's published keys, as ``gateway keys show --jwks-only`` prints them."""
    keys = []
    for node in nodes.values():
        for jwk in json.loads(node.setup("keys", "show", "--jwks-only"))["keys"]:
            public = {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y")}
            keys.append({"node": node.node_id, "kid": jwk["kid"], "jwk": public,
                         "thumbprint": thumbprint(public)})
    out.write_text(json.dumps({"keys": keys}))
    return out


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    """Poll ``check`` until it answers something true; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
