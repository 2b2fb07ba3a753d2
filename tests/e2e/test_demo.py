"""``gateway demo`` (what ``make run`` runs) plays the scripted exchange and serves."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gateway.demo import NODES, DemoError, start_federation
from tests.e2e.federation import free_ports

pytestmark = pytest.mark.e2e


def test_demo_plays_the_repatriation_and_serves_until_interrupted(tmp_path: Path) -> None:
    base = free_ports(len(NODES))  # a port a node, from --base-port on
    # Ctrl-C as a terminal sends it, however the tests were started: a shell that starts them
    # in the background (`make test &`) has them ignore SIGINT, and a child inherits that
    # (the demo would never hear it); a handler is not inherited.
    ignored = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "demo", "--dir", str(tmp_path / "demo"),
             "--base-port", str(base)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, cwd=tmp_path, start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, ignored)
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.startswith("Serving."):
            break
    output = "\n".join(lines)
    try:
        assert "Serving. Press Ctrl-C to stop." in output, output
        for doc_type in ("verification-request", "verification-response",
                         "repatriation-request", "repatriation-response", "handover-record",
                         "investigation-update", "suspect-notice", "case-closure", "alert"):
            assert any(doc_type in line and "receipt verified" in line for line in lines), doc_type
        assert "pulled by kh.blo-bavet" in output
        assert "Demo logins on every node" in output
        proof = next(line for line in output.splitlines() if "check it offline:" in line)
        assert proof.endswith("->  the proof holds"), proof
        for role in ("blo-officer", "supervisor", "investigator", "hotline-operator", "admin",
                     "auditor"):
            assert role in output, role
        login = httpx.post(f"http://127.0.0.1:{base + 1}/api/session", timeout=10,
                           json={"username": "officer", "password": "demo-password-2026"})
        cases = httpx.get(f"http://127.0.0.1:{base + 1}/api/cases", timeout=10, headers={
            "Authorization": f"Bearer {login.json()['token']}"}).json()["cases"]
        assert [c["state"] for c in cases] == ["active"]  # kh.ahtjp's joint investigation
        # every case ends where its messages put it: checked by the demo and printed
        # both sides' cases after each document of the return, checked by the demo itself
        for doc_type, states in (
                ("verification-request", "kh.blo-bavet verification-requested · "
                                         "vn.blo-mocbai verification-requested"),
                ("repatriation-response", "kh.blo-bavet repatriation-planned · "
                                          "vn.blo-mocbai repatriation-planned"),
                ("handover-record", "kh.blo-bavet handed-over · vn.blo-mocbai handed-over"),
                ("case-closure", "kh.blo-bavet closed · vn.blo-mocbai closed")):
            assert any(doc_type in line and line.endswith(f"cases: {states}")
                       for line in lines), (doc_type, states)
        assert any("records the referral: received-and-referred" in line for line in lines)
        for node, partner, state in (("kh.blo-bavet", "vn.blo-mocbai", "closed"),
                                     ("vn.blo-mocbai", "kh.blo-bavet", "closed"),
                                     ("vn.c02", "kh.ahtjp", "active")):
            assert any(node in line and partner in line and line.endswith(state)
                       for line in lines), (node, state)
        for offset in range(5):
            health = httpx.get(f"http://127.0.0.1:{base + offset}/bx/v1/health", timeout=5)
            assert health.json()["status"] == "ok"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the demo and its nodes: none left behind
            raise
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{base}/bx/v1/health", timeout=2)


def test_a_demo_that_cannot_start_leaves_no_node_running(tmp_path: Path) -> None:
    """A port already taken: the node on it stops at once, the demo says which, and the four
    others it had started are stopped too."""
    base = free_ports(len(NODES))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 2))  # la.atd's
        taken.listen()
        with pytest.raises(DemoError, match=r"la\.atd stopped") as failed:
            start_federation(tmp_path / "demo", base, lambda _line: None)
    assert "address already in use" in str(failed.value).lower()
    for offset in (0, 1, 3, 4):
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{base + offset}/bx/v1/health", timeout=2)
