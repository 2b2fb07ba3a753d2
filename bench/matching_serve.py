"""``POST /api/matches`` timed through a real ``gateway serve`` on loopback with ``wrk``, at
a number of stored missing-person reports, beside a baseline measured in the same run: one
report read by id (``GET /api/missing-persons/{id}``, an indexed lookup, audited as matching
is) through the same server.

The reports are the evaluation set's (``bench/matching_set.py``), pre-loaded by direct insert
through the repositories and the node's sealer (the person sealed, its blocking keys keyed
into the blind index), then the node is started and ``wrk`` sends the queries' bodies one at a
time on one connection (latency, not throughput: each request waits for the one before).

    .venv/bin/python bench/matching.py --serve 2000,100000   (flock /work/heavy.lock)
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as day_time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import free_port, need_wrk, serve, stop
from pydantic import ValidationError

from bench.matching_set import EvaluationSet, generate
from gateway.cases import match_index
from gateway.cases.missing_commands import MatchQuery
from gateway.exchange.startup import open_node
from gateway.matching.model import prepare
from gateway.matching.person import Person
from gateway.settings import REPOSITORY, load_settings
from gateway.store import matching as match_repo
from gateway.store import missing_persons as repo
from gateway.trust.keys import KeyStore

WORK = REPOSITORY / "var" / "bench-matching"
#: Each line: ``METHOD<TAB>PATH<TAB>BODY``; every request carries the machine token.
LINES_SCRIPT = r"""
function init(args)
  token = args[2]
  lines, idx = {}, 0
  for line in io.lines(args[1]) do
    local a = line:find("\t", 1, true)
    local b = line:find("\t", a + 1, true)
    lines[#lines + 1] = {line:sub(1, a - 1), line:sub(a + 1, b - 1), line:sub(b + 1)}
  end
end
function request()
  idx = idx + 1
  local item = lines[((idx - 1) % #lines) + 1]
  local body = nil
  if item[3] ~= "" then body = item[3] end
  return wrk.format(item[1], item[2], {["Content-Type"] = "application/json",
                                        ["Accept-Language"] = "vi",
                                        ["Authorization"] = "Bearer " .. token}, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d non2xx=%d errors=%d p50=%d p95=%d\n",
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95)))
end
"""


@dataclass(frozen=True)
class Timed:
    """One ``wrk`` run: requests, failures, p50 and p95 in ms."""

    requests: int
    failed: int
    p50_ms: float
    p95_ms: float


def _env(work: Path) -> dict[str, str]:
    shutil.rmtree(work, ignore_errors=True)
    KeyStore(work / "keys" / "signing.pem", "kh.ahtjp").generate("EdDSA", None,
                                                                  datetime.now(UTC))
    (work / "partners").mkdir(parents=True)
    return {**os.environ, "BX_NODE_ID": "kh.ahtjp", "BX_DATA_DIR": str(work),
            "BX_LOG_LEVEL": "warning", "PYTHONPATH": str(REPOSITORY)}


async def _preload(env: dict[str, str], evaluation: EvaluationSet) -> float:
    """The reports stored, sealed, and indexed; answers the seconds it took."""
    started = time.perf_counter()
    os.environ.update(env)
    node = await open_node(load_settings())
    sealer = node.sealer
    try:
        for start in range(0, len(evaluation.reports), 5000):
            reports, keys = [], []
            for r in evaluation.reports[start:start + 5000]:
                person = Person.from_json(r.person)
                reports.append({
                    "id": r.id, "reference": f"KH-AHTJP-2026-MP-{r.id:06d}", "unit": "kh.ahtjp",
                    "recorded_by": "bench", "state": "open",
                    "created_at": datetime.combine(r.asof, day_time(9), UTC),
                    "person_sealed": sealer.seal(json.dumps(person.to_json(),
                                                            ensure_ascii=False).encode(),
                                                 repo.PERSON_COLUMN),
                    "sex": person.sex, "nationality": person.nationality,
                    "presumed_child": False, "reporter_relation": "parent"})
                keys.extend({"kind": match_repo.MISSING, "record_id": r.id, "case_id": None,
                             "key": k}
                            for k in match_index.keys_of(sealer, prepare(person, r.asof)))
            async with node.engine.begin() as conn:
                await repo.insert_reports(conn, reports)
                await match_repo.insert_keys(conn, keys)
    finally:
        await node.close()
    return time.perf_counter() - started


def _wrk(url: str, lines: Path, token: str, seconds: int) -> Timed:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LINES_SCRIPT)
    try:
        result = subprocess.run(
            [need_wrk(), "-t", "1", "-c", "1", "-d", f"{seconds}s", "--timeout", "30s",
             "-s", script.name, url, "--", str(lines), token],
            capture_output=True, text=True, check=True)
    finally:
        Path(script.name).unlink()
    found = re.search(r"RESULT requests=(\d+) non2xx=(\d+) errors=(\d+) p50=(\d+) p95=(\d+)",
                      result.stdout)
    if found is None:
        raise SystemExit(f"wrk printed no result:\n{result.stdout}\n{result.stderr}")
    requests, non2xx, errors, p50, p95 = map(int, found.groups())
    return Timed(requests, non2xx + errors, p50 / 1000, p95 / 1000)


def time_server(evaluation: EvaluationSet, seconds: int = 20) -> tuple[Timed, Timed, float]:
    """(matches, baseline, pre-load seconds) through a real ``gateway serve``."""
    work = WORK / str(len(evaluation.reports))
    env = _env(work)
    loaded = asyncio.run(_preload(env, evaluation))
    queries = work / "queries.lines"
    with queries.open("w", encoding="utf-8") as out:
        for q in evaluation.queries:
            try:  # the API's PERSON needs a Latin name (the core's takes a native one alone)
                MatchQuery.model_validate({"person": q.person})
            except ValidationError:
                continue
            body = json.dumps({"person": q.person, "limit": 10}, ensure_ascii=False)
            out.write(f"POST\t/api/matches\t{body}\n")
    reads = work / "reads.lines"
    step = max(1, len(evaluation.reports) // 997)
    with reads.open("w", encoding="utf-8") as out:
        for r in evaluation.reports[::step]:
            out.write(f"GET\t/api/missing-persons/{r.id}\t\n")
    port = free_port()
    node = serve([sys.executable, "-m", "gateway", "serve"], env, port,
                 log=work / "serve.log")
    try:
        token = (work / "keys" / "api.token").read_text(encoding="utf-8").strip()
        url = f"http://127.0.0.1:{port}"
        _wrk(url, queries, token, 3)  # warm: the model, the catalogs, the page cache
        matches = _wrk(url, queries, token, seconds)
        baseline = _wrk(url, reads, token, seconds // 2)
    finally:
        stop(node)
    return matches, baseline, loaded


def server_timing(count: int, seed: int, seconds: int) -> None:
    """``POST /api/matches`` through ``gateway serve`` with ``wrk`` at ``count`` reports,
    beside reading one report by id through the same server (``bench/matching_serve.py``)."""
    matches, baseline, loaded = time_server(generate(seed, count, 200), seconds)
    print(f"  POST /api/matches through gateway serve at {count:,} reports (pre-loaded in "
          f"{loaded:.0f} s; wrk, one connection): p50 {matches.p50_ms:.1f} ms, p95 "
          f"{matches.p95_ms:.1f} ms (target < 200 ms) over {matches.requests} requests "
          f"({matches.failed} failed); baseline GET /api/missing-persons/{{id}}: p50 "
          f"{baseline.p50_ms:.1f} ms, p95 {baseline.p95_ms:.1f} ms "
          f"({baseline.failed} failed); p95 {matches.p95_ms / baseline.p95_ms:.1f}x the "
          f"baseline's")

