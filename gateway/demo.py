"""``gateway demo``: a federation of real nodes on loopback playing a scripted repatriation.

Each node is its own ``gateway serve`` process with its own data folder. Keys are generated
and pinned through ``gateway partners enrol`` with the thumbprints printed at generation, as
real agencies would exchange them. Cambodia finds a Vietnamese teenager; the two countries
verify her identity and agree on her return; the handover record goes to a border office that
has no inbound link and pulls its mail.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gateway.settings import REPOSITORY

#: (node id, how the others reach it)
NODES: tuple[tuple[str, str], ...] = (
    ("vn.c02", "push"), ("kh.ahtjp", "push"), ("la.atd", "push"),
    ("vn.blo-mocbai", "push"), ("kh.blo-bavet", "pull"),
)

#: (sender, recipient, type, example file, priority, handling)
SCRIPT: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("kh.ahtjp", "vn.c02", "verification-request", "kh-bavet-presumed-child.xml", "urgent",
     "H1"),
    ("vn.c02", "kh.ahtjp", "verification-response", "vn-c02-confirmed.xml", "urgent", "H1"),
    ("kh.ahtjp", "vn.c02", "repatriation-request", "kh-ahtjp-child-mocbai.xml", "routine",
     "H1"),
    ("vn.c02", "kh.ahtjp", "repatriation-response", "vn-accepted.xml", "routine", "H1"),
    ("vn.blo-mocbai", "kh.blo-bavet", "handover-record", "mocbai-bavet-child.xml", "routine",
     "H1"),
    ("vn.c02", "la.atd", "alert", "vn-hotline-child-imminent.xml", "immediate", "H2"),
)


class DemoError(Exception):
    """The demo could not be set up; the message says what failed."""


@dataclass
class DemoNode:
    """One node of the demo."""

    node_id: str
    mode: str
    home: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    thumbprint: str = ""

    @property
    def url(self) -> str:
        """Base URL of its partner API."""
        return f"http://127.0.0.1:{self.port}/bx/v1"

    def env(self) -> dict[str, str]:
        """Its settings, as environment variables."""
        environment = {k: v for k, v in os.environ.items() if not k.startswith("BX_")}
        environment.update(BX_NODE_ID=self.node_id, BX_DATA_DIR=str(self.home / "data"),
                           BX_PORT=str(self.port), BX_HOST="127.0.0.1")
        return environment

    def gateway(self, *args: str) -> str:
        """Run a ``gateway`` command for this node; its standard output."""
        result = subprocess.run([sys.executable, "-m", "gateway", *args], cwd=self.home,
                                env=self.env(), capture_output=True, text=True, check=False,
                                timeout=120)
        if result.returncode != 0:
            raise DemoError(f"{self.node_id}: gateway {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def token(self) -> str:
        """Its local API token."""
        return (self.home / "data" / "keys" / "api.token").read_text(encoding="utf-8").strip()

    def api(self) -> httpx.Client:
        """A client of its local API."""
        return httpx.Client(base_url=f"http://127.0.0.1:{self.port}/api", timeout=30,
                            headers={"Authorization": f"Bearer {self.token()}"})


def _wait(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise DemoError(f"timed out waiting for {what}")


def _healthy(node: DemoNode) -> bool:
    if node.process is not None and node.process.poll() is not None:
        log = (node.home / "node.log").read_text(encoding="utf-8")[-800:]
        raise DemoError(f"{node.node_id} stopped: {log}")
    try:
        return httpx.get(f"{node.url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def start_federation(root: Path, base_port: int, say: Callable[[str], None]) -> list[DemoNode]:
    """Generate keys, start every node, enrol every pair by thumbprint."""
    root = root.resolve()
    if root.exists():
        shutil.rmtree(root)
    nodes = [DemoNode(node_id, mode, root / node_id, base_port + index)
             for index, (node_id, mode) in enumerate(NODES)]
    for node in nodes:
        node.home.mkdir(parents=True)
        out = node.gateway("keys", "generate")
        node.thumbprint = out.split("thumbprint: ")[1].strip()
        say(f"  {node.node_id:14} key {out.split()[1]}  thumbprint {node.thumbprint}")
    for node in nodes:
        log = (node.home / "node.log").open("ab")
        node.process = subprocess.Popen([sys.executable, "-m", "gateway", "serve"],
                                        cwd=node.home, env=node.env(), stdout=log, stderr=log)
        log.close()
    for node in nodes:
        _wait(lambda n=node: _healthy(n), 60, f"{node.node_id} to start")  # type: ignore[misc]
    for node in nodes:
        for other in nodes:
            if other is node:
                continue
            poll = "1" if node.mode == "pull" else "0"
            node.gateway("partners", "enrol", other.node_id, "--endpoint", other.url,
                         "--thumbprint", other.thumbprint, "--fetch", "--delivery", other.mode,
                         "--poll-seconds", poll)
        with node.api() as api:
            api.post("/admin/partners/reload").raise_for_status()
    say(f"  every node pinned the keys of the {len(nodes) - 1} others by thumbprint")
    return nodes


def _state(node: DemoNode, message_id: str) -> dict[str, Any]:
    with node.api() as api:
        listed = api.get("/messages").json()["messages"]
    return next((m for m in listed if m["id"] == message_id), {})


def play_script(nodes: list[DemoNode], say: Callable[[str], None]) -> None:
    """Send the scripted documents one after the other, each once the previous is receipted."""
    by_id = {node.node_id: node for node in nodes}
    conversation: str | None = None
    previous: str | None = None
    for sender_id, recipient, doc_type, example, priority, handling in SCRIPT:
        document = (REPOSITORY / "schemas" / doc_type / "examples" / example).read_text(
            encoding="utf-8")
        sender = by_id[sender_id]
        with sender.api() as api:
            response = api.post("/messages", json={
                "to": recipient, "type": doc_type, "document": document,
                "conversation": conversation, "ref": previous, "priority": priority,
                "handling": handling, "lang": "km" if sender_id.startswith("kh") else "vi"})
        if response.status_code != 202:
            raise DemoError(f"{sender_id} could not send {doc_type}: {response.text}")
        message_id = response.json()["id"]
        conversation = conversation or message_id
        _wait(lambda s=sender, m=message_id: _state(s, m).get("state") == "delivered",  # type: ignore[misc]
              60, f"{doc_type} to be receipted")
        mode = "pulled by" if by_id[recipient].mode == "pull" else "pushed to"
        say(f"  {time.strftime('%H:%M:%S')}  {sender_id:14} {mode:9} {recipient:14} "
            f"{doc_type:22} {message_id}  receipt verified")
        previous = message_id


def stop_federation(nodes: list[DemoNode]) -> None:
    """Stop every node gracefully."""
    for node in nodes:
        if node.process is not None and node.process.poll() is None:
            node.process.send_signal(signal.SIGTERM)
    for node in nodes:
        if node.process is not None:
            try:
                node.process.wait(30)
            except subprocess.TimeoutExpired:
                node.process.kill()


def run_demo(root: Path, base_port: int, say: Callable[[str], None], *,
             serve_forever: bool = True) -> list[DemoNode]:
    """Set up the federation, play the script, then serve until interrupted."""
    say("Starting the demo federation (real processes on loopback):")

    def interrupted(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    nodes = start_federation(root, base_port, say)
    try:
        say("Scripted repatriation of a Vietnamese teenager found in Cambodia:")
        play_script(nodes, say)
        say("Nodes:")
        for node in nodes:
            mode = " (no inbound link: pulls its mail)" if node.mode == "pull" else ""
            say(f"  {node.node_id:14} {node.url}{mode}  data: {node.home / 'data'}")
        if serve_forever:
            say("Serving. Press Ctrl-C to stop.")
            while all(n.process is not None and n.process.poll() is None for n in nodes):
                time.sleep(1)
    except KeyboardInterrupt:
        say("Stopping.")
    finally:
        if serve_forever:
            stop_federation(nodes)
    return nodes
