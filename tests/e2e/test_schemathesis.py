"""Schemathesis against a real node's OpenAPI document, as every role and as no one: whatever
it sends, the local API answers without a server error."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.access.roles import HUMAN_ROLES
from tests.e2e.federation import make_federation

pytestmark = pytest.mark.e2e
SCHEMATHESIS = str(Path(sys.executable).with_name("st"))
#: The roles whose runs include schemathesis's coverage phase (boundary values of every
#: field, three quarters of a run's time): the widest sets of permissions. The others'
#: operations are those of one of these (a hotline operator's, a BLO officer's and an
#: investigator's are all a supervisor's), or refused to them.
COVERED = ("machine", "supervisor", "admin")


def test_no_role_can_make_the_local_api_fail(tmp_path: Path) -> None:
    nodes = make_federation(tmp_path / "nodes",
                            {"vn.blo-mocbai": "push", "kh.blo-bavet": "push"})
    node = nodes["vn.blo-mocbai"]
    try:
        headers = {"machine": f"Bearer {node.api_token()}", "anonymous": None}
        for role in HUMAN_ROLES:
            unit = "vn.hotline-111" if role == "hotline-operator" else None
            node.add_user(role.replace("-", "."), role, unit=unit)
            session = node.session(role.replace("-", "."))
            headers[role] = session.headers["Authorization"]
            if role == "blo-officer":  # something for the ids to find
                case = session.post("/cases", json={"kind": "repatriation",
                                                    "partner": "kh.blo-bavet"}).json()
                session.post(f"/cases/{case['id']}/notes", json={"text": "seed"})
        outcomes: dict[str, tuple[int, str]] = {}
        pending = list(headers.items())
        running: dict[str, subprocess.Popen[str]] = {}
        while pending or running:  # two roles at a time: the node and the client share 2 cores
            while pending and len(running) < 2:
                role, header = pending.pop(0)
                command = [SCHEMATHESIS, "run",
                           f"http://127.0.0.1:{node.port}/api/openapi.json",
                           "--checks", "not_a_server_error", "--max-examples", "2",
                           "--exclude-method", "DELETE",  # logging out ends the session
                           "--exclude-path", "/api/session/password", "--seed", "4"]
                if header:
                    command += ["-H", f"Authorization: {header}"]
                if role not in COVERED:  # the same paths as a wider role, or refused on them:
                    command += ["--phases", "examples,fuzzing"]  # the wider role's chains
                with (tmp_path / f"schemathesis-{role}.txt").open("w") as out:
                    running[role] = subprocess.Popen(command, stdout=out,
                                                     stderr=subprocess.STDOUT, text=True)
            while not (done := [r for r, p in running.items() if p.poll() is not None]):
                time.sleep(0.2)  # whichever finishes first frees its place
            role = done[0]
            code = running.pop(role).wait(timeout=900)
            outcomes[role] = (code, (tmp_path / f"schemathesis-{role}.txt").read_text()[-1500:])
        failed = {role: out for role, (code, out) in outcomes.items() if code != 0}
        assert not failed, failed
        assert all("passed" in out for _, out in outcomes.values())
    finally:
        for running in nodes.values():
            running.stop()
    for running in nodes.values():
        log = running.log_path.read_text(encoding="utf-8")
        assert "Traceback" not in log, log[-3000:]
