"""One-shot enrolment for docker-compose: keys for every node, every node pinned at the others.

Runs before the nodes start, with every node's volume mounted under ``BX_FEDERATION_ROOT``.
The JWK Sets are read from the volumes (no network is needed), and each key is pinned only
through its thumbprint, exactly as ``gateway partners enrol`` does for real agencies.
Idempotent: existing keys are kept and enrolment merges.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def gateway(node: str, data: Path, *args: str) -> str:
    env = {**os.environ, "BX_NODE_ID": node, "BX_DATA_DIR": str(data)}
    result = subprocess.run([sys.executable, "-m", "gateway", *args], env=env, text=True,
                            capture_output=True, check=False)
    if result.returncode != 0:
        sys.exit(f"enrol: {node}: gateway {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def main() -> None:
    root = Path(os.environ.get("BX_FEDERATION_ROOT", "/federation"))
    federation = dict(item.split("=", 1) for item in os.environ["BX_FEDERATION"].split())
    thumbprints: dict[str, str] = {}
    for node in federation:
        data = root / node
        if not (data / "keys" / "signing.pem").exists():
            gateway(node, data, "keys", "generate")
        thumbprints[node] = gateway(node, data, "keys", "show").split()[2]
        (root / f"{node}.jwks.json").write_text(
            gateway(node, data, "keys", "show", "--jwks-only"), encoding="utf-8")
    for node in federation:
        for other, url in federation.items():
            if other != node:
                gateway(node, root / node, "partners", "enrol", other, "--endpoint", url,
                        "--thumbprint", thumbprints[other], "--jwks",
                        str(root / f"{other}.jwks.json"))
        print(f"{node}: thumbprint {thumbprints[node]}, pinned {len(federation) - 1} partners")
    owner = int(os.environ.get("BX_OWNER_UID", "999"))
    for node in federation:
        for path in [root / node, *(root / node).rglob("*")]:
            os.chown(path, owner, owner)


if __name__ == "__main__":
    main()
