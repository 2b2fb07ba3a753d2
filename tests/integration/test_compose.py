"""docker-compose.yml: valid for docker-compose, and its settings are the names of NODE.md."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import yaml

from gateway.settings import Settings
from tests.conftest import REPO

NODE_MD_SETTINGS = {f"BX_{name.upper()}" for name in Settings.model_fields} - {
    "BX_SCHEMAS_DIR", "BX_PROFILES_DIR"}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return data


def test_docker_compose_accepts_the_file() -> None:
    binary = shutil.which("docker-compose")
    assert binary, "make test installs Debian's docker-compose"
    result = subprocess.run([binary, "config", "-q"], cwd=REPO, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr


def test_every_node_service_follows_node_md() -> None:
    services = compose()["services"]
    nodes = {name: s for name, s in services.items() if name != "enrol"}
    assert {s["environment"]["BX_NODE_ID"] for s in nodes.values()} >= {
        "vn.c02", "kh.ahtjp", "la.atd"}
    volumes = set()
    for name, service in nodes.items():
        env = service["environment"]
        assert set(env) <= NODE_MD_SETTINGS, set(env) - NODE_MD_SETTINGS
        node_id = env["BX_NODE_ID"]
        assert (REPO / "partners" / f"{node_id}.toml").exists()
        assert service["build"] == "."
        assert "/bx/v1/health" in " ".join(service["healthcheck"]["test"])
        assert service["depends_on"]["enrol"]["condition"] == "service_completed_successfully"
        assert env["BX_PUBLIC_URL"] == f"http://{name}:8600/bx/v1"
        (volume,) = service["volumes"]
        volumes.add(volume.split(":")[0])
    assert volumes <= set(compose()["volumes"])
    assert len(volumes) == len(nodes)


def test_the_enrolment_service_knows_every_node() -> None:
    services = compose()["services"]
    enrol = services["enrol"]
    federation = dict(item.split("=") for item in enrol["environment"]["BX_FEDERATION"].split())
    nodes = {s["environment"]["BX_NODE_ID"]: s["environment"]["BX_PUBLIC_URL"]
             for name, s in services.items() if name != "enrol"}
    assert federation == nodes
    assert (REPO / "deploy" / "enrol.py").exists()
    assert "deploy/enrol.py" in " ".join(enrol["entrypoint"])


def replicas() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.replicas.yml").read_text())
    return data


def test_docker_compose_accepts_the_replicas_file() -> None:
    binary = shutil.which("docker-compose")
    assert binary, "make test installs Debian's docker-compose"
    result = subprocess.run([binary, "-f", "docker-compose.replicas.yml", "config", "-q"],
                            cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_three_replicas_share_one_database_folder_and_front() -> None:
    services = replicas()["services"]
    nodes = {name: s for name, s in services.items() if name.startswith("vn-c02-r")}
    assert len(nodes) == 3
    names = set()
    for service in nodes.values():
        env = service["environment"]
        assert set(env) <= NODE_MD_SETTINGS, set(env) - NODE_MD_SETTINGS
        assert env["BX_NODE_ID"] == "vn.c02"
        assert env["BX_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert env["BX_PUBLIC_URL"] == "http://vn-c02:8600/bx/v1"  # HAProxy, not a replica
        assert service["volumes"] == ["vn-c02-data:/var/lib/bx"]
        assert "/bx/v1/health" in " ".join(service["healthcheck"]["test"])
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        names.add(env["BX_REPLICA"])
    assert names == {"r1", "r2", "r3"}
    haproxy = (REPO / "deploy" / "haproxy.cfg").read_text()
    assert "option httpchk GET /bx/v1/health" in haproxy
    for name in nodes:
        assert f"{name}:8600 check" in haproxy
    assert "./deploy/haproxy.cfg" in services["vn-c02"]["volumes"][0]
    # The replicas believe the client address HAProxy passes on, from HAProxy only.
    assert "option forwardfor" in haproxy
    assert "http-request del-header X-Forwarded-For" in haproxy
    front = services["vn-c02"]["networks"]["default"]["ipv4_address"]
    for service in nodes.values():
        assert service["environment"]["BX_TRUSTED_PROXIES"] == front
