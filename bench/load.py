"""What the benchmarks share: ports, starting a server, and driving HTTP with ``wrk``.

The load comes from ``wrk`` (Debian's package, installed by ``make bench``), never from a
Python client: a client in Python caps both sides near 200 requests/s on these machines.
``wrk`` reads pre-built requests from a file (one per line: a bearer token, a tab, the body)
through :data:`POST_LINES`, so that every request carries a distinct signed message.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

#: The wrk script: each thread takes every n-th line of the file; ``done`` prints one line.
POST_LINES = r"""
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  path_ = args[3] or "/bx/v1/messages"
  ctype = args[4] or "application/jose+json"
  lines, idx = {}, 0
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == id then
      local tab = line:find("\t", 1, true)
      lines[#lines + 1] = {line:sub(1, tab - 1), line:sub(tab + 1)}
    end
    i = i + 1
  end
end
function request()
  idx = idx + 1
  local item = lines[((idx - 1) % #lines) + 1]
  return wrk.format("POST", path_, {["Content-Type"] = ctype,
                                    ["Authorization"] = "Bearer " .. item[1]}, item[2])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d non2xx=%d errors=%d p50=%d p99=%d duration=%d lines_per_thread=%d\n",
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), summary.duration, 0))
end
"""


@dataclass(frozen=True)
class Load:
    """What one ``wrk`` run measured."""

    requests: int
    failed: int  # non-2xx answers and socket errors
    p50_ms: float
    p99_ms: float
    seconds: float

    @property
    def ok(self) -> int:
        """Requests answered 2xx."""
        return self.requests - self.failed

    @property
    def rate(self) -> float:
        """2xx answers per second."""
        return self.ok / self.seconds


def need_wrk() -> str:
    """The path of ``wrk``, or exit saying how to get it."""
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is missing: run `make bench` (installs Debian's wrk) or "
                         "apt-get install wrk")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve(command: list[str], env: dict[str, str], port: int,
          health: str = "/bx/v1/health", log: Path | None = None) -> subprocess.Popen[bytes]:
    """Start a server and wait until ``health`` answers 200."""
    out = log.open("wb") if log else subprocess.DEVNULL
    process = subprocess.Popen(command, env={**env, "BX_PORT": str(port)}, stdout=out,
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited at start: {' '.join(command)}"
                             + (f" (see {log})" if log else ""))
        try:
            if httpx.get(f"http://127.0.0.1:{port}{health}", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_lines(path: Path, items: list[tuple[str, bytes]]) -> None:
    """The request file: ``token<TAB>body`` per line (bodies hold no newline)."""
    with path.open("wb") as out:
        for token, body in items:
            assert b"\n" not in body
            assert b"\t" not in token.encode()
            out.write(token.encode() + b"\t" + body + b"\n")


def wrk(url: str, lines: Path, *, seconds: int, connections: int = 32, threads: int = 2,
        path: str = "/bx/v1/messages", content_type: str = "application/jose+json") -> Load:
    """Post the lines of ``lines`` to ``url`` for ``seconds`` with ``wrk``."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(POST_LINES)
    try:
        result = subprocess.run(
            [need_wrk(), "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
             "--timeout", "30s", "-s", script.name, url, "--", str(lines), str(threads), path,
             content_type], capture_output=True, text=True, check=True)
    finally:
        Path(script.name).unlink()
    found = re.search(r"RESULT requests=(\d+) non2xx=(\d+) errors=(\d+) p50=(\d+) p99=(\d+) "
                      r"duration=(\d+)", result.stdout)
    if found is None:
        raise SystemExit(f"wrk printed no result:\n{result.stdout}\n{result.stderr}")
    requests, non2xx, errors, p50, p99, duration = map(int, found.groups())
    return Load(requests, non2xx + errors, p50 / 1000, p99 / 1000, duration / 1e6)
