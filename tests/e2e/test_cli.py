"""The ``gateway`` command as operators run it: real processes, real files, real HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from openpyxl import load_workbook

from gateway.protocol import tlog
from gateway.store.database import create_engine
from tests.integration.test_reports import seed

GATEWAY = Path(sys.executable).with_name("gateway")


def run(cwd: Path, *args: str, node: str | None = "vn.c02", stdin: str | None = None,
        **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BX_")}
    if node:
        environment["BX_NODE_ID"] = node
    environment.update(env)
    return subprocess.run([str(GATEWAY), *args], cwd=cwd, env=environment, text=True,
                          capture_output=True, input=stdin or "", timeout=60, check=False)


def test_missing_node_id_stops_with_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, "keys", "show", node=None)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "BX_NODE_ID" in result.stderr


def test_usage_error_exits_2(tmp_path: Path) -> None:
    assert run(tmp_path, "keys", "generate", "--alg", "RS256").returncode == 2
    assert run(tmp_path, "no-such-command").returncode == 2
    status = run(tmp_path, "messages", "--status", "foo")
    assert status.returncode == 2
    assert "'foo' is not one of" in status.stderr


#: What `gateway --help` must not load: the database, the web and case stacks, Argon2.
HEAVY = ("sqlalchemy", "alembic", "uvicorn", "fastapi", "argon2", "weasyprint", "httpx",
         "gateway.cases", "gateway.store", "gateway.web", "gateway.access")


def test_help_and_usage_errors_load_nothing_heavy(tmp_path: Path) -> None:
    probe = ("import sys\n"
             "sys.argv = ['gateway'] + sys.argv[1:]\n"
             "from gateway.cli import main\n"
             "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
             "loaded = sorted({m.split('.')[0] if not m.startswith('gateway.') else "
             "'.'.join(m.split('.')[:2]) for m in sys.modules})\n"
             "print('LOADED', code, ' '.join(loaded))\n")
    for args in (["--help"], ["users", "add", "x", "--role", "king"], ["messages", "--help"],
                 ["probe", "--help"], ["probe", "--partner", "kh.ahtjp"]):
        shown = subprocess.run([sys.executable, "-c", probe, *args], cwd=tmp_path, text=True,
                               capture_output=True, timeout=60, check=False)
        line = next(x for x in shown.stdout.splitlines() if x.startswith("LOADED"))
        loaded = set(line.split()[2:])
        assert not loaded & set(HEAVY), (args, loaded & set(HEAVY))


def test_the_command_lines_own_words_are_translated(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("BX_", "LC_"))}
    for language, usage, helped in (("km", "របៀបប្រើ៖", "បង្ហាញសារនេះ ហើយចាកចេញ"),
                                    ("vi", "Cách dùng:", "Hiện hướng dẫn này rồi thoát")):
        shown = subprocess.run([GATEWAY, "users", "--help"], cwd=tmp_path, text=True,
                               capture_output=True, timeout=60, check=True,
                               env={**environment, "LANGUAGE": language, "COLUMNS": "200"})
        assert usage in shown.stdout, language
        assert "Usage:" not in shown.stdout
        assert helped in shown.stdout
    refused = subprocess.run([GATEWAY, "messages", "--status", "foo"], cwd=tmp_path, text=True,
                             capture_output=True, timeout=60, check=False,
                             env={**environment, "LANGUAGE": "vi", "COLUMNS": "200"})
    assert refused.returncode == 2
    assert "Cách dùng:" in refused.stderr
    assert "Lỗi" in refused.stderr
    assert "Giá trị không hợp lệ cho '--status'" in refused.stderr
    assert "không phải là một trong" in refused.stderr
    assert "Invalid value" not in refused.stderr
    missing = subprocess.run([GATEWAY, "users", "add"], cwd=tmp_path, text=True,
                             capture_output=True, timeout=60, check=False,
                             env={**environment, "LANGUAGE": "lo", "COLUMNS": "200"})
    assert missing.returncode == 2
    assert "ຂາດອາກິວເມັນ 'username'" in missing.stderr
    # A refusal of the gateway itself, not only the framework's words.
    node = {**environment, "LANGUAGE": "km", "BX_NODE_ID": "vn.c02",
            "BX_DATA_DIR": str(tmp_path / "var")}
    subprocess.run([GATEWAY, "keys", "generate"], cwd=tmp_path, capture_output=True,
                   timeout=60, check=True, env=node)
    unknown = subprocess.run([GATEWAY, "keys", "retire", "vn.c02#nope", "--yes"], cwd=tmp_path,
                             text=True, capture_output=True, timeout=60, check=False, env=node)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "gateway: គ្មានសោដែលបានផ្សព្វផ្សាយ vn.c02#nope"
    # A partner file's problems, line by line, in the operator's language.
    partners = tmp_path / "var" / "partners"
    partners.mkdir(parents=True, exist_ok=True)
    (partners / "kh.ahtjp.toml").write_text(
        'id = "kh.ahtjp"\ncountry = "KH"\nlanguages = ["km"]\ndelivery = "push"\n'
        '[name]\nvi = "AHTJP"\n', encoding="utf-8")
    checked = subprocess.run([GATEWAY, "partners", "check"], cwd=tmp_path, text=True,
                             capture_output=True, timeout=60, check=False,
                             env={**node, "LANGUAGE": "vi"})
    assert checked.returncode == 1
    assert "thiếu name.en" in checked.stderr
    assert "delivery là 'push' nhưng không có endpoint" in checked.stderr


def test_key_life_cycle(tmp_path: Path) -> None:
    generated = run(tmp_path, "keys", "generate", "--label", "2026-11")
    assert generated.returncode == 0, generated.stderr
    assert "kid: vn.c02#2026-11" in generated.stdout
    assert "PRIVATE KEY" not in generated.stdout + generated.stderr
    again = run(tmp_path, "keys", "generate")
    assert again.returncode == 1
    assert "exists" in again.stderr

    jwks = json.loads(run(tmp_path, "keys", "show", "--jwks-only").stdout)
    assert {(k["kid"], k["use"], k["alg"]) for k in jwks["keys"]} == {
        ("vn.c02#2026-11", "sig", "EdDSA")}
    shown = run(tmp_path, "keys", "show")
    assert "vn.c02#2026-11  EdDSA" in shown.stdout
    assert "PRIVATE" not in shown.stdout

    assert "signs the checkpoints itself" in run(tmp_path, "keys", "checkpoint-key").stderr

    # moving to ES256 publishes an Ed25519 key for the checkpoints with it (PROTOCOL.md §4.8)
    rotated = run(tmp_path, "keys", "rotate", "--label", "2026-12", "--alg", "ES256")
    assert rotated.returncode == 0, rotated.stderr
    assert "checkpoint kid: vn.c02#checkpoints-" in rotated.stdout
    assert "checkpoint thumbprint: " in rotated.stdout
    assert len(json.loads(run(tmp_path, "keys", "show", "--jwks-only").stdout)["keys"]) == 3
    assert "EdDSA" in next(line for line in run(tmp_path, "keys", "show").stdout.splitlines()
                           if "signs checkpoints" in line)
    refused = run(tmp_path, "keys", "retire", "vn.c02#2026-11")
    assert refused.returncode == 1
    assert "--yes" in refused.stderr
    assert run(tmp_path, "keys", "retire", "vn.c02#2026-12", "--yes").returncode == 1
    assert run(tmp_path, "keys", "retire", "vn.c02#2026-11", "--yes").returncode == 0
    kids = [k["kid"] for k in json.loads(run(tmp_path, "keys", "show",
                                             "--jwks-only").stdout)["keys"]]
    assert kids[0] == "vn.c02#2026-12"
    assert kids[1].startswith("vn.c02#checkpoints-")
    kept = run(tmp_path, "keys", "retire", kids[1], "--yes")
    assert kept.returncode == 1
    assert "signs the checkpoints" in kept.stderr
    replaced = run(tmp_path, "keys", "checkpoint-key", "--label", "cp-2")
    assert "checkpoint kid: vn.c02#cp-2" in replaced.stdout
    assert run(tmp_path, "keys", "retire", kids[1], "--yes").returncode == 0
    checkpoint = run(tmp_path, "audit", "checkpoint", "--new")
    assert checkpoint.returncode == 0, checkpoint.stderr
    assert "— vn.c02#cp-2 " in checkpoint.stdout  # signed with the new checkpoint key
    key_file = tmp_path / "var" / "vn.c02" / "keys" / "signing.pem"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


@pytest.fixture
def partner_node(tmp_path: Path) -> tuple[Path, dict[str, object], str]:
    """kh.ahtjp with a key: its folder, its JWK Set and its thumbprint."""
    home = tmp_path / "kh"
    home.mkdir()
    out = run(home, "keys", "generate", node="kh.ahtjp").stdout
    thumbprint = out.split("thumbprint: ")[1].strip()
    jwks = json.loads(run(home, "keys", "show", "--jwks-only", node="kh.ahtjp").stdout)
    return home, jwks, thumbprint


@pytest.fixture
def jwks_server(partner_node: tuple[Path, dict[str, object], str]) -> Iterator[str]:
    body = json.dumps(partner_node[1]).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.path == "/bx/v1/.well-known/jwks.json"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body if ok else b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/bx/v1"
    server.shutdown()


def test_enrol_from_a_file_then_list_and_check(
        tmp_path: Path, partner_node: tuple[Path, dict[str, object], str]) -> None:
    _, jwks, thumbprint = partner_node
    jwks_file = tmp_path / "kh-jwks.json"
    jwks_file.write_text(json.dumps(jwks))
    home = tmp_path / "vn"
    home.mkdir()
    result = run(home, "partners", "enrol", "kh.ahtjp", "--endpoint",
                 "https://gw.example.kh/bx/v1", "--thumbprint", thumbprint,
                 "--jwks", str(jwks_file))
    assert result.returncode == 0, result.stderr
    assert "pinned kh.ahtjp#" in result.stdout
    listed = run(home, "partners", "list")
    assert listed.returncode == 0
    assert listed.stdout.startswith("kh.ahtjp  push  https://gw.example.kh/bx/v1  kh.ahtjp#")
    assert "(valid)" in listed.stdout
    checked = run(home, "partners", "check")
    assert (checked.returncode, checked.stdout.strip()) == (0, "1 partner files OK")


def test_enrol_by_fetching_over_http(
        tmp_path: Path, jwks_server: str,
        partner_node: tuple[Path, dict[str, object], str]) -> None:
    result = run(tmp_path, "partners", "enrol", "kh.ahtjp", "--endpoint", jwks_server,
                 "--thumbprint", partner_node[2], "--fetch", "--delivery", "pull")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "var/vn.c02/partners/kh.ahtjp.toml").read_text()
    assert 'delivery = "pull"' in text


def test_enrol_with_a_wrong_thumbprint_writes_nothing(
        tmp_path: Path, jwks_server: str) -> None:
    result = run(tmp_path, "partners", "enrol", "kh.ahtjp", "--endpoint", jwks_server,
                 "--thumbprint", "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", "--fetch")
    assert result.returncode == 1
    assert "matches no key" in result.stderr
    assert not (tmp_path / "var/vn.c02/partners/kh.ahtjp.toml").exists()


def test_enrol_without_a_profile_or_with_both_sources_is_refused(tmp_path: Path) -> None:
    no_profile = run(tmp_path, "partners", "enrol", "th.dsi", "--thumbprint", "x", "--fetch",
                     "--endpoint", "http://127.0.0.1:9/bx/v1")
    assert no_profile.returncode == 1
    assert "no profile" in no_profile.stderr
    both = run(tmp_path, "partners", "enrol", "kh.ahtjp", "--thumbprint", "x", "--fetch",
               "--jwks", "x.json")
    assert both.returncode == 1
    assert "exactly one" in both.stderr


def test_partners_check_reports_one_line_per_problem(tmp_path: Path) -> None:
    partners = tmp_path / "var/vn.c02/partners"
    partners.mkdir(parents=True)
    (partners / "kh.ahtjp.toml").write_text(
        'id = "kh.ahtjp"\ncountry = "KH"\nlanguages = ["km"]\nmay_send = ["visa"]\n'
        '[name]\nvi = "x"\nen = "y"\n')
    (partners / "la.atd.toml").write_text("not toml at all = = =")
    result = run(tmp_path, "partners", "check")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3  # unknown type, push without endpoint, and the broken file
    assert any("visa" in line for line in lines)
    assert any("la.atd.toml: not TOML" in line for line in lines)


def test_users_are_added_listed_disabled_and_reset_from_the_command_line(
        tmp_path: Path) -> None:
    password = "a long enough password\n"
    added = run(tmp_path, "users", "add", "lan", "--role", "blo-officer", "--unit",
                "vn.blo-mocbai", "--name", "Nguyễn Thị Lan", "--password-stdin", stdin=password)
    assert added.returncode == 0, added.stderr
    again = run(tmp_path, "users", "add", "lan", "--role", "blo-officer", "--unit",
                "vn.blo-mocbai", "--name", "Lan", "--password-stdin", stdin=password)
    assert again.returncode == 1
    assert "exists already" in again.stderr
    short = run(tmp_path, "users", "add", "hoa", "--role", "supervisor", "--unit", "vn.c02",
                "--name", "Hoa", "--password-stdin", stdin="short\n")
    assert short.returncode == 1
    assert "12 characters" in short.stderr
    bad_role = run(tmp_path, "users", "add", "hoa", "--role", "king", "--unit", "vn.c02",
                   "--name", "Hoa", "--password-stdin", stdin=password)
    assert bad_role.returncode == 2  # a usage error, before any password is read
    assert "is not one of" in bad_role.stderr
    bad_unit = run(tmp_path, "users", "add", "hoa", "--role", "admin", "--unit", "C02",
                   "--name", "Hoa", "--password-stdin", stdin=password)
    assert bad_unit.returncode == 2
    listed = run(tmp_path, "users", "list").stdout.split()
    assert listed[:3] == ["lan", "blo-officer", "vn.blo-mocbai"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", listed[3])  # since when, in UTC+7
    assert listed[-1] == "active"
    assert run(tmp_path, "users", "disable", "lan", stdin="n\n").returncode == 1
    assert run(tmp_path, "users", "disable", "lan", "--yes").returncode == 0
    assert run(tmp_path, "users", "list").stdout.split()[-1] == "disabled"
    reset = run(tmp_path, "users", "reset-password", "lan", "--password-stdin",
                stdin="another long password\n")
    assert reset.returncode == 0
    assert run(tmp_path, "users", "reset-password", "nobody", "--password-stdin",
               stdin=password).returncode == 1
    verified = run(tmp_path, "audit", "verify")
    assert verified.returncode == 0
    assert "audit chain intact" in verified.stdout
    assert "audit tree intact" in verified.stdout
    assert run(tmp_path, "keys", "generate").returncode == 0  # a checkpoint is signed
    checkpoint = run(tmp_path, "audit", "checkpoint", "--new")
    assert checkpoint.returncode == 0, checkpoint.stderr
    note = tlog.parse_note(checkpoint.stdout.encode())
    head = tlog.parse_checkpoint(note.text)
    assert head.origin == "bx/vn.c02/audit"
    assert head.size >= 1
    assert "no partner has cosigned" in checkpoint.stderr
    database = tmp_path / "var" / "vn.c02" / "gateway.db"
    with sqlite3.connect(database) as db:  # an entry rewritten behind the node's back
        db.execute("UPDATE audit_tree SET hash = zeroblob(32) WHERE level = 0 AND idx = 0")
    broken = run(tmp_path, "audit", "verify")
    assert broken.returncode == 1
    assert "audit tree broken" in broken.stderr
    assert "entry 1" in broken.stderr


def test_an_operator_names_the_units_of_the_node(tmp_path: Path) -> None:
    password = "a long enough password\n"
    added = run(tmp_path, "users", "add", "hoa", "--role", "hotline-operator", "--unit",
                "vn.hotline-tn", "--name", "Hoa", "--password-stdin", stdin=password)
    assert added.returncode == 0, added.stderr
    assert "vn.hotline-tn has no name yet: name it with 'gateway users unit vn.hotline-tn" \
        in added.stdout
    vi, en = "Đường dây nóng Công an tỉnh Tây Ninh", "Tay Ninh Provincial Police Hotline"
    named = run(tmp_path, "users", "unit", "vn.hotline-tn", "--vi", vi, "--en", f" {en} ")
    assert named.returncode == 0, named.stderr
    assert named.stdout.splitlines() == [f"vi  {vi}", f"en  {en}", "km  -", "lo  -"]
    assert "no name yet in: km, lo" in named.stderr
    units = tmp_path / "var" / "vn.c02" / "units.toml"
    assert tomllib.loads(units.read_text(encoding="utf-8")) == {
        "units": {"vn.hotline-tn": {"vi": vi, "en": en}}}
    with sqlite3.connect(tmp_path / "var" / "vn.c02" / "gateway.db") as db:
        audited = db.execute("SELECT actor, subject, detail FROM audit_log "
                             "WHERE action = 'unit.named'").fetchall()
    assert [(a, s, json.loads(d)) for a, s, d in audited] == [
        ("operator", "vn.hotline-tn", {"names": {"vi": vi, "en": en}})]

    before = units.read_bytes()
    empty = run(tmp_path, "users", "unit", "vn.hotline-tn", "--km", "  ")
    assert empty.returncode == 1
    assert "--km: vn.hotline-tn km: a name is one line of 1 to 200 characters" in empty.stderr
    assert run(tmp_path, "users", "unit", "Hotline TN", "--vi", "x").returncode == 2
    partners = tmp_path / "var" / "vn.c02" / "partners"
    partners.mkdir(parents=True, exist_ok=True)
    (partners / "kh.ahtjp.toml").write_text('id = "kh.ahtjp"\n', encoding="utf-8")
    partner = run(tmp_path, "users", "unit", "kh.ahtjp", "--vi", "AHTJP")
    assert partner.returncode == 1
    assert "kh.ahtjp is a partner: its names are in its partner file" in partner.stderr
    assert units.read_bytes() == before  # nothing refused was written

    shipped = run(tmp_path, "users", "unit", "vn.hotline-111")  # named in the repository
    assert shipped.returncode == 0
    assert shipped.stdout.splitlines()[1] == "en  National Child Protection Hotline 111, Viet Nam"
    assert shipped.stderr == ""
    known = run(tmp_path, "users", "add", "tam", "--role", "hotline-operator", "--unit",
                "vn.hotline-111", "--name", "Tam", "--password-stdin", stdin=password)
    assert "no name yet" not in known.stdout
    units.write_text('[units."vn.hotline-tn"\n', encoding="utf-8")
    broken = run(tmp_path, "users", "unit", "vn.hotline-tn")
    assert broken.returncode == 1
    assert "var/vn.c02/units.toml: not TOML" in broken.stderr  # which file, and where in it
    assert "line 1, column 23" in broken.stderr


def test_report_exports_a_period_and_audits_the_reason(tmp_path: Path) -> None:
    assert run(tmp_path, "keys", "generate").returncode == 0
    empty = run(tmp_path, "report", "--period", "2026-H1", "--format", "csv")
    assert empty.returncode == 0, empty.stderr
    database = tmp_path / "var" / "vn.c02" / "gateway.db"

    async def fill() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{database}")
        async with engine.begin() as conn:
            await seed(conn)
        await engine.dispose()

    asyncio.run(fill())
    bad = run(tmp_path, "report", "--period", "2026-H3")
    assert bad.returncode == 1
    assert bad.stderr.strip().count("\n") == 0
    assert "2026-H3" in bad.stderr
    assert run(tmp_path, "report", "--period", "2026-H1", "--format", "xlsx").returncode == 1
    out = tmp_path / "h1.xlsx"
    made = run(tmp_path, "report", "--period", "2026-H1", "--format", "xlsx", "--out",
               str(out), "--reason", "six-month report to the steering committee")
    assert made.returncode == 0, made.stderr
    rows = [row for sheet in load_workbook(out) for row in sheet.iter_rows(values_only=True)]
    assert ("all", 8, 4, 6, 3) in [row[:5] for row in rows]
    shown = run(tmp_path, "report", "--period", "2026-H1", "--format", "csv", LANGUAGE="vi")
    assert "Yêu cầu xác minh" in shown.stdout
    assert "kh.ahtjp,2,2,1" in shown.stdout
    with sqlite3.connect(database) as db:
        exports = db.execute("SELECT subject, detail FROM audit_log WHERE action = "
                             "'report.exported' ORDER BY seq").fetchall()
    assert len(exports) == 3
    assert exports[1][0] == "2026-H1"
    assert json.loads(exports[1][1])["reason"] == "six-month report to the steering committee"
    assert json.loads(exports[1][1])["format"] == "xlsx"


def test_matching_reindex_rebuilds_the_index_and_says_how_many(tmp_path: Path) -> None:
    assert run(tmp_path, "keys", "generate").returncode == 0
    done = run(tmp_path, "matching", "reindex")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Indexed 0 open reports and 0 case persons."
    said = run(tmp_path, "matching", "reindex", LANGUAGE="vi")
    assert "Đã lập chỉ mục 0 tin báo" in said.stdout
    with sqlite3.connect(tmp_path / "var" / "vn.c02" / "gateway.db") as db:
        audited = db.execute("SELECT actor, detail FROM audit_log WHERE action = "
                             "'matching.reindexed'").fetchall()
    assert [(a, json.loads(d)) for a, d in audited] == [
        ("system", {"persons": 0, "reports": 0})] * 2
