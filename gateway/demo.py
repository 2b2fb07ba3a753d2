"""``gateway demo``: a federation of real nodes on loopback playing a scripted repatriation.

Each node is its own ``gateway serve`` process with its own data folder, configured by that
folder alone (``BX_`` variables and a ``.env`` file where the demo is started play no part).
Keys are generated and each node pins the others' by the thumbprints printed at generation, as
real agencies would exchange them, with what ``gateway keys generate`` and ``gateway partners
enrol --fetch`` run (in the demo's process: 25 commands would cost half a minute of
start-up). Cambodia's Bavet border office (no inbound link: it pulls its mail) finds a
Vietnamese teenager; Moc Bai verifies her identity, Bavet's supervisor records that return is
in her best interests, the return is agreed, the handover record follows, Moc Bai records
where she was referred and closes the case after her follow-up. Each document moves both
sides' cases, nobody moves them by hand (MESSAGES.md, "Both sides keep one case"): the demo
checks both states after every document. C02 and Cambodia's anti-trafficking police exchange
on a joint investigation, and a hotline tip about a child in Laos becomes an immediate
alert."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from gateway.access import users
from gateway.audit import log as audit
from gateway.audit.context import DatabaseAtHand
from gateway.documents.convert import DocumentForms
from gateway.documents.registry import SchemaRegistry
from gateway.protocol.encoding import EncodingError, json_object, strict_json_loads
from gateway.protocol.errors import N_, GatewayError
from gateway.protocol.jose import thumbprint
from gateway.runtime.node import open_database
from gateway.settings import REPOSITORY, Settings, load_settings
from gateway.store.transactions import Database
from gateway.trust.keys import KeyStore
from gateway.trust.partners import KeyEntry, PartnerFileError, enrol_partner, select_keys

#: (node id, how the others reach it)
NODES: tuple[tuple[str, str], ...] = (
    ("vn.c02", "push"), ("kh.ahtjp", "push"), ("la.atd", "push"),
    ("vn.blo-mocbai", "push"), ("kh.blo-bavet", "pull"),
)

#: (sender, recipient, type, example file, priority, handling, kind of the sender's case):
#: each document is drafted on the sender's case by its officer and released by its
#: supervisor (four eyes).
SCRIPT: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("kh.blo-bavet", "vn.blo-mocbai", "verification-request", "kh-bavet-presumed-child.xml",
     "urgent", "H1", "repatriation"),
    ("vn.blo-mocbai", "kh.blo-bavet", "verification-response", "vn-c02-confirmed.xml",
     "urgent", "H1", "repatriation"),
    ("kh.blo-bavet", "vn.blo-mocbai", "repatriation-request", "kh-ahtjp-child-mocbai.xml",
     "routine", "H1", "repatriation"),
    ("vn.blo-mocbai", "kh.blo-bavet", "repatriation-response", "vn-accepted.xml", "routine",
     "H1", "repatriation"),
    ("vn.blo-mocbai", "kh.blo-bavet", "handover-record", "mocbai-bavet-child.xml", "routine",
     "H1", "repatriation"),
    ("vn.c02", "kh.ahtjp", "investigation-update", "vn-c02-tasks.xml", "urgent", "H2",
     "investigation"),
    ("kh.ahtjp", "vn.c02", "suspect-notice", "kh-ahtjp-broker-information.xml", "urgent", "H2",
     "investigation"),
    ("vn.blo-mocbai", "kh.blo-bavet", "case-closure", "vn-child-reintegrated.xml", "routine",
     "H1", "repatriation"),
)
#: (finding side's state, home side's state) after each document of the repatriation: the
#: demo checks both at once, so that it never contradicts MESSAGES.md's table.
STATES_AFTER: dict[str, tuple[str, str]] = {
    "verification-request": ("verification-requested", "verification-requested"),
    "verification-response": ("verified", "verified"),
    "repatriation-request": ("verified", "verified"),
    "repatriation-response": ("repatriation-planned", "repatriation-planned"),
    "handover-record": ("handed-over", "handed-over"),
    "case-closure": ("closed", "closed"),
}
#: The persons C02's joint investigation holds before its first update names them by
#: ``person-id`` (a document refers only to persons its case holds).
INVESTIGATION_PERSONS: tuple[dict[str, Any], ...] = (
    {"person_ref": "S1", "role": "suspect", "name_native": "Trương Văn Khải",
     "name_latin": "TRUONG Van Khai", "sex": "male", "nationality": "VN"},
    {"person_ref": "P1", "role": "victim", "name_latin": "NGUYEN Thi Hoa", "sex": "female",
     "estimated_age": 15, "age_uncertain": True, "nationality": "VN"},
)
#: The referral the home side records after the handover (a human decision, as the finding
#: side's best-interests record is): then its case is received-and-referred.
REFERRAL: dict[str, str] = {"kind": "social-protection-centre",
                            "facility": "Trung tâm Công tác xã hội tỉnh Tây Ninh"}
#: Where each demo case ends (node, partner) -> state: `make run` checks it, so that the
#: demo never contradicts itself.
EXPECTED_STATES: dict[tuple[str, str], str] = {
    ("kh.blo-bavet", "vn.blo-mocbai"): "closed",
    ("vn.blo-mocbai", "kh.blo-bavet"): "closed",
    ("vn.c02", "kh.ahtjp"): "active",
    ("kh.ahtjp", "vn.c02"): "active",
}
#: Demo accounts on every node: (user name, role, unit or None for the node's own unit).
#: Each unit has two supervisors: one submits (a periodic report, a draft of her own),
#: the other releases (four eyes).
DEMO_USERS: tuple[tuple[str, str, str | None], ...] = (
    ("officer", "blo-officer", None), ("supervisor", "supervisor", None),
    ("deputy", "supervisor", None),
    ("investigator", "investigator", None), ("hotline", "hotline-operator", "hotline"),
    ("hotline.chief", "supervisor", "hotline"), ("hotline.deputy", "supervisor", "hotline"),
    ("admin", "admin", None), ("auditor", "auditor", None),
)
#: The demo people's names, as their colleagues write them (each node takes them from its own
#: place in the list, so that two nodes' officers are two people).
DEMO_NAMES: dict[str, tuple[str, ...]] = {
    "vn": ("Nguyễn Thị Lan", "Trần Văn Hùng", "Lê Minh Tuấn", "Phạm Thu Hà", "Hoàng Đức Anh",
           "Vũ Thị Mai", "Đặng Quốc Bảo", "Bùi Thanh Hương", "Đỗ Văn Nam", "Ngô Thị Hoa",
           "Dương Minh Khoa", "Lý Thị Ngọc"),
    "kh": ("សុខ ចាន់ថា", "ហេង សុភា", "ចាន់ ដារ៉ា", "គឹម សុវណ្ណ", "ម៉ៅ ស្រីនាង", "ឈឹម វិបុល",
           "ពេជ្រ សុផល", "លី ស្រីមុំ", "សេង រតនា", "អ៊ុំ បុប្ផា", "នួន សំណាង", "ទេព សុខា"),
    "la": ("ສົມພອນ ພົມມະວົງ", "ບຸນມີ ສີສຸວັນ", "ຄຳຫຼ້າ ແກ້ວມະນີ", "ວັນນາ ສີຫາລາດ",
           "ສຸກສະຫວັນ ພັນທະວົງ", "ແສງເດືອນ ຈັນທະລາ", "ທອງສີ ອິນທະວົງ", "ພອນສະຫວັນ ແສງອາລຸນ",
           "ມະນີວອນ ໄຊຍະວົງ", "ບົວພັນ ຄຳແສງ", "ຈັນສະໝອນ ພູມມາ", "ສີວິໄລ ດວງປັນຍາ"),
}
DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - the demo federation's, printed on purpose


def _now() -> datetime:
    return datetime.now(UTC)


class DemoError(GatewayError):
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
    sessions: dict[str, httpx.Client] = field(default_factory=dict)

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
            raise DemoError(N_("{node_id}: gateway {command}: {error}"), node_id=self.node_id,
                            command=" ".join(args), error=result.stderr.strip())
        return result.stdout

    def token(self) -> str:
        """Its local API token."""
        return (self.home / "data" / "keys" / "api.token").read_text(encoding="utf-8").strip()

    def api(self) -> httpx.Client:
        """A client of its local API with the node's own token (automation)."""
        return httpx.Client(base_url=f"http://127.0.0.1:{self.port}/api", timeout=30,
                            headers={"Authorization": f"Bearer {self.token()}"})

    def session(self, username: str) -> httpx.Client:
        """A client of its local API, logged in as one of the demo users (once: a login
        costs a password hash)."""
        if username in self.sessions:
            return self.sessions[username]
        response = httpx.post(f"http://127.0.0.1:{self.port}/api/session", timeout=30,
                              json={"username": username, "password": DEMO_PASSWORD})
        if response.status_code != 200:
            raise DemoError(N_("{node_id}: {username} cannot log in: {text}"),
                            node_id=self.node_id, username=username, text=response.text)
        self.sessions[username] = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}/api", timeout=30,
            headers={"Authorization": f"Bearer {response.json()['token']}"})
        return self.sessions[username]

    def unit(self, name: str | None) -> str:
        """The unit of a demo user: the node's own, or e.g. ``vn.hotline``."""
        return f"{self.node_id.split('.')[0]}.{name}" if name else self.node_id

    def person(self, i: int) -> str:
        """The name of the node's ``i``-th demo user (see :data:`DEMO_NAMES`)."""
        country = self.node_id.split(".")[0]
        names = DEMO_NAMES.get(country, DEMO_NAMES["vn"])
        start = sum(self.node_id.encode()) % len(names)
        return names[(start + i) % len(names)]

    def settings(self) -> Settings:
        """Its settings, as its processes read them from :meth:`env` in its folder: from its
        folder alone, never from this process's ``BX_`` variables or a ``.env`` file here."""
        ambient = {name: os.environ.pop(name) for name in list(os.environ)
                   if name.startswith("BX_")}
        try:
            return load_settings(_env_file=None, node_id=self.node_id,
                                 data_dir=self.home / "data", port=self.port, host="127.0.0.1")
        finally:
            os.environ.update(ambient)

    def prepare(self) -> str:
        """Its signing key and demo accounts, in this process, as ``gateway keys generate``
        and ``gateway users add`` make them (audited as theirs): its key id."""
        settings = self.settings()
        store = KeyStore(settings.key_path, self.node_id)
        key = store.generate("EdDSA", None, _now())
        self.thumbprint = next(k.thumbprint for k in store.published() if k.kid == key.kid)

        async def work() -> None:
            at_hand = DatabaseAtHand(Database(await open_database(settings)), _now)
            try:
                await audit.record(at_hand, "operator", "key.generated", key.kid,
                                   {"thumbprint": self.thumbprint})
                for i, (username, role, unit) in enumerate(DEMO_USERS):
                    await users.add_user(at_hand, "demo", username=username,
                                         display_name=self.person(i), role=role,
                                         unit=self.unit(unit), password=DEMO_PASSWORD)
            finally:
                await at_hand.db.dispose()

        asyncio.run(work())
        return key.kid

    def enrol(self, others: list[DemoNode], types: Collection[str]) -> None:
        """Pin each other node's key by the thumbprint it handed over, from the key set it
        serves, write its partner file and audit it, one partner after the other, as
        ``gateway partners enrol ID --fetch --thumbprint T`` does."""
        settings = self.settings()

        async def work() -> None:
            at_hand = DatabaseAtHand(Database(await open_database(settings)), _now)
            try:
                for other in others:
                    keys = self._pin(settings, other, types)
                    await audit.record(at_hand, "operator", "partner.enrolled", other.node_id,
                                       {"thumbprints": [k.thumbprint for k in keys]})
            finally:
                await at_hand.db.dispose()

        asyncio.run(work())

    def _pin(self, settings: Settings, other: DemoNode, types: Collection[str]
             ) -> list[KeyEntry]:
        try:
            served = httpx.get(f"{other.url}/.well-known/jwks.json", timeout=10)
            served.raise_for_status()
            keys = select_keys(other.node_id, strict_json_loads(served.content),
                               [other.thumbprint])
            enrol_partner(settings.profiles_dir / f"{other.node_id}.toml",
                          settings.partners_path, types, keys, other.url,
                          "pull" if other.mode == "pull" else "push",
                          1 if self.mode == "pull" else 0)
        except (PartnerFileError, EncodingError, httpx.HTTPError) as exc:
            raise DemoError(N_("{node_id}: enrolling {partner}: {error}"),
                            node_id=self.node_id, partner=other.node_id,  # ours: translated
                            error=exc if isinstance(exc, GatewayError) else str(exc)) from exc
        return keys


def _wait(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise DemoError(N_("timed out waiting for {what}"), what=what)


def _healthy(node: DemoNode) -> bool:
    if node.process is not None and node.process.poll() is not None:
        log = (node.home / "node.log").read_text(encoding="utf-8")[-800:]
        raise DemoError(N_("{node_id} stopped: {log}"), node_id=node.node_id, log=log)
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

    types = SchemaRegistry.load(REPOSITORY / "schemas").types()
    for node in nodes:  # in this process, one after the other (migrations are not threadsafe)
        node.home.mkdir(parents=True)
        kid = node.prepare()
        say(f"  {node.node_id:14} key {kid}  thumbprint {node.thumbprint}")
    try:
        for node in nodes:
            log = (node.home / "node.log").open("ab")
            node.process = subprocess.Popen([sys.executable, "-m", "gateway", "serve"],
                                            cwd=node.home, env=node.env(), stdout=log,
                                            stderr=log)
            log.close()
        for node in nodes:
            _wait(lambda n=node: _healthy(n), 60,  # type: ignore[misc]
                  f"{node.node_id} to start")
        for node in nodes:
            node.enrol([other for other in nodes if other is not node], types)
        for node in nodes:
            with node.api() as api:
                api.post("/admin/partners/reload").raise_for_status()
    except BaseException:  # a failed start (or Ctrl-C) leaves no node running
        stop_federation(nodes)
        raise
    say(f"  every node pinned the keys of the {len(nodes) - 1} others by thumbprint")
    return nodes


def _state(node: DemoNode, message_id: str) -> dict[str, Any]:
    with node.api() as api:
        listed = api.get("/messages").json()["messages"]
    return next((m for m in listed if m["id"] == message_id), {})


def _ok(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 300:
        raise DemoError(N_("{what}: {status_code} {text}"),
                        what=what, status_code=response.status_code, text=response.text)
    return response.json()


def _case_for(officer: httpx.Client, partner: str, kind: str = "repatriation") -> int:
    """The officer's newest case with ``partner``: a joint investigation, or (for the other
    kinds) the case of a return, whichever side opened it (the home side's was opened by
    the partner's request, as a verification case); a new one if there is none."""
    found = [c for c in _ok(officer.get("/cases", params={"partner": partner}),
                            "list cases")["cases"]
             if (c["kind"] == "investigation") == (kind == "investigation")
             and c["kind"] != "hotline"]
    if found:
        return int(found[0]["id"])
    made = _ok(officer.post("/cases", json={
        "kind": kind, "origin": "investigation" if kind == "investigation" else "blo",
        "partner": partner, "priority": "urgent"}), "open a case")
    return int(made["id"])


def _best_interests(node: DemoNode, partner: str) -> None:
    """The finding side's supervisor records that return is in the child's best interests
    (MESSAGES.md: the finding side's gate before it proposes a return)."""
    supervisor = node.session("supervisor")
    case_id = _case_for(node.session("officer"), partner)
    _ok(supervisor.post(f"/cases/{case_id}/best-interests", json={
        "note": "Mother located and assessed; return is in the child's best interests."}),
        f"{node.node_id} records best interests")


def _referral(node: DemoNode, partner: str) -> None:
    """The home side's officer records where the person received was referred."""
    officer = node.session("officer")
    case_id = _case_for(officer, partner)
    _ok(officer.post(f"/cases/{case_id}/referral", json=REFERRAL),
        f"{node.node_id} records the referral")


def _case_state(node: DemoNode, partner: str) -> str:
    officer = node.session("officer")
    return str(_ok(officer.get(f"/cases/{_case_for(officer, partner)}"), "read a case")["state"])


def _both_sides(finder: DemoNode, home: DemoNode, doc_type: str) -> str:
    """Both cases once a document of the return has arrived: where MESSAGES.md's table puts
    them, or :class:`DemoError`."""
    wanted = STATES_AFTER[doc_type]
    found: tuple[str, str] = ("", "")

    def agree() -> bool:
        nonlocal found
        found = (_case_state(finder, home.node_id), _case_state(home, finder.node_id))
        return found == wanted

    try:
        _wait(agree, 30, f"both cases after the {doc_type}")
    except DemoError as exc:
        raise DemoError(N_("after the {doc_type}: {finder} is {found_finder} and {home} is "
                           "{found_home}, not {wanted}"), doc_type=doc_type,
                        finder=finder.node_id, found_finder=found[0], home=home.node_id,
                        found_home=found[1], wanted=" / ".join(wanted)) from exc
    return f"{finder.node_id} {found[0]} · {home.node_id} {found[1]}"


def _on_the_case(officer: httpx.Client, case_id: int, document: dict[str, Any]) -> None:
    """What the case knows goes into the document: its own reference and the partner's,
    and (a suspect notice) the victims the conversation named, by their ``person-id``."""
    case = _ok(officer.get(f"/cases/{case_id}"), "read a case")
    if "case-reference" in document:
        document["case-reference"] = case["reference"]
    if "partner-case-reference" in document and case.get("partner_reference"):
        document["partner-case-reference"] = case["partner_reference"]
    answers = [m["id"] for m in case["messages"]
               if m["direction"] == "in" and m["type"] == "verification-response"]
    if "returnee" in document and answers:  # the answer that verified her
        for returnee in document["returnee"]:
            returnee["@verification"] = answers[-1]
    if "victim" in document and "suspect" in document:
        document["victim"] = [{"@person-id": p["person_ref"]} for p in case["persons"]
                              if p["role"] == "victim"]


def check_states(nodes: list[DemoNode]) -> dict[tuple[str, str], str]:
    """Each demo case's state; :class:`DemoError` if one is not where its messages put it."""
    by_id = {node.node_id: node for node in nodes}
    found: dict[tuple[str, str], str] = {}
    for (node_id, partner), wanted in EXPECTED_STATES.items():
        cases = _ok(by_id[node_id].session("supervisor").get(
            "/cases", params={"partner": partner}), "list cases")["cases"]
        state = cases[0]["state"] if cases else "none"
        found[(node_id, partner)] = state
        if state != wanted:
            raise DemoError(N_("{node_id}: the case with {partner} is {state}, not {wanted}"),
                            node_id=node_id, partner=partner, state=state, wanted=wanted)
    return found


def _receipted(sender: DemoNode, message_id: str, doc_type: str, recipient: DemoNode,
               say: Callable[[str], None]) -> None:
    _wait(lambda: _state(sender, message_id).get("state") == "delivered", 60,
          f"{doc_type} to be receipted")
    mode = "pulled by" if recipient.mode == "pull" else "pushed to"
    line = (f"  {time.strftime('%H:%M:%S')}  {sender.node_id:14} {mode:9} "
            f"{recipient.node_id:14} {doc_type:22} {message_id}  receipt verified")
    if doc_type in STATES_AFTER and "kh.blo-bavet" in (sender.node_id, recipient.node_id):
        finder, home = (sender, recipient) if sender.node_id == "kh.blo-bavet" \
            else (recipient, sender)
        line += f"  cases: {_both_sides(finder, home, doc_type)}"
    say(line)


def play_script(nodes: list[DemoNode], say: Callable[[str], None]
                ) -> list[tuple[str, str, str, str]]:
    """Each document drafted on the sender's case, released by a supervisor, receipted;
    returns (sender, recipient, message id, handling) of each."""
    forms = DocumentForms(SchemaRegistry.load(REPOSITORY / "schemas"))
    by_id = {node.node_id: node for node in nodes}
    previous: dict[frozenset[str], str] = {}
    played: list[tuple[str, str, str, str]] = []
    for sender_id, recipient, doc_type, example, priority, handling, kind in SCRIPT:
        sender = by_id[sender_id]
        officer, supervisor = sender.session("officer"), sender.session("supervisor")
        case_id = _case_for(officer, recipient, kind)
        if doc_type == "repatriation-request":  # a child: the finding side decides first
            _best_interests(sender, recipient)
        if doc_type == "investigation-update" and kind == "investigation":
            for person in INVESTIGATION_PERSONS:  # the persons the update names, on the case
                _ok(officer.post(f"/cases/{case_id}/persons", json=person),
                    f"{sender_id} adds a person to the investigation")
        if doc_type == "case-closure":  # the home side refers her before it closes
            _referral(sender, recipient)
            say(f"  {time.strftime('%H:%M:%S')}  {sender_id:14} records the referral: "
                f"{_case_state(sender, recipient)}")
        document = json_object(forms.read(doc_type, "1.0",
                              (REPOSITORY / "schemas" / doc_type / "examples" / example)
                              .read_bytes()))
        _on_the_case(officer, case_id, document)
        pair = frozenset((sender_id, recipient))
        draft = _ok(officer.post(f"/cases/{case_id}/drafts", json={
            "type": doc_type, "to": recipient, "ref": previous.get(pair), "priority": priority,
            "handling": handling, "lang": "km" if sender_id.startswith("kh") else "vi",
            "document": document}), f"{sender_id} drafts {doc_type}")
        _ok(officer.post(f"/drafts/{draft['id']}/submit"), f"{sender_id} submits {doc_type}")
        message_id = _ok(supervisor.post(f"/drafts/{draft['id']}/release"),
                         f"{sender_id} releases {doc_type}")["message_id"]
        _receipted(sender, message_id, doc_type, by_id[recipient], say)
        previous[pair] = message_id
        played.append((sender_id, recipient, message_id, handling))
    hotline = by_id["vn.c02"].session("hotline")
    tip = _ok(hotline.post("/tips", json={
        "channel": "phone", "reporter_relation": "parent", "danger": "imminent",
        "narrative": "Con gái 16 tuổi bị giữ tại một quán karaoke ở Savannakhet, "
                     "sắp bị đưa sang Thái Lan.",
        "location": {"country": "LA", "province": "Savannakhet"}, "foreign_country": "LA",
        "persons": [{"name_native": "Lò Thị Sương", "name_latin": "LO Thi Suong",
                     "sex": "female", "estimated_age": 16, "nationality": "VN"}],
        "reporter_identity": {"name": "Lò Văn Tâm", "phone": "+84 98 765 4321"},
        "last_seen_at": _now().replace(microsecond=0).isoformat()}), "a tip")
    escalated = _ok(hotline.post(f"/tips/{tip['id']}/escalate", json={
        "classification": "trafficking", "urgency": "immediate", "alert_to": "la.atd",
        "duty_phone": "+84 24 3826 9111"}), "escalate the tip")
    _receipted(by_id["vn.c02"], escalated["message_id"], "alert", by_id["la.atd"], say)
    return played


def show_a_proof(nodes: list[DemoNode], played: list[tuple[str, str, str, str]],
                 say: Callable[[str], None]) -> Path:
    """The proof bundle of the first message, made at its recipient (its checkpoint cosigned
    by the sender first), and checked with the standalone checker."""
    by_id = {node.node_id: node for node in nodes}
    _, recipient_id, message_id, _ = next(p for p in played if p[3] != "H2")
    recipient = by_id[recipient_id]
    bundle = recipient.home / f"proof-{message_id}.zip"
    recipient.gateway("proof", "export", message_id, str(bundle), "--reason",
                      "demo: what a court would check", "--wait", "90")
    checker = REPOSITORY / "tools" / "bxproof.py"
    keys = handed_over_keys(nodes, bundle.with_name("handed-over-keys.json"))
    checked = subprocess.run([sys.executable, str(checker), str(bundle), "--keys", str(keys)],
                             capture_output=True, text=True, check=False, timeout=60)
    verdict = (checked.stdout.strip().splitlines() or ["?"])[-1]
    say(f"  proof bundle of message {message_id} (received by {recipient_id}): {bundle}")
    say(f"  check it offline: python3 {checker} {bundle} --keys {keys}  ->  {verdict}")
    return bundle


def handed_over_keys(nodes: list[DemoNode], out: Path) -> Path:
    """The nodes' published keys as the agencies hand them to a court, in the format of a
    proof bundle's keys.json (a checker trusts no key a bundle brings along)."""
    keys = []
    for node in nodes:
        for jwk in json.loads(node.gateway("keys", "show", "--jwks-only"))["keys"]:
            public = {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y")}
            keys.append({"node": node.node_id, "kid": jwk["kid"], "jwk": public,
                         "thumbprint": thumbprint(public)})
    out.write_text(json.dumps({"keys": keys}, indent=2), encoding="utf-8")
    return out


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
        played = play_script(nodes, say)
        say("Where each case ended (checked):")
        for (node_id, partner), state in check_states(nodes).items():
            say(f"  {node_id:14} case with {partner:14} {state}")
        say("Verifiable history (audit logs cosigned by partners):")
        show_a_proof(nodes, played, say)
        say("Nodes:")
        for node in nodes:
            mode = " (no inbound link: pulls its mail)" if node.mode == "pull" else ""
            say(f"  {node.node_id:14} console http://127.0.0.1:{node.port}/  partner API "
                f"{node.url}{mode}  data: {node.home / 'data'}")
        say(f"Demo logins on every node (password: {DEMO_PASSWORD}); the local API is at "
            "http://127.0.0.1:<port>/api (POST /api/session), documented at /api/openapi.json:")
        for username, role, unit in DEMO_USERS:
            where = (f"the node's {unit} unit ({nodes[0].unit(unit)} on {nodes[0].node_id})"
                     if unit else "the node's own unit")
            say(f"  {username:15} {role:17} {where}")
        say("  (two supervisors per unit: one submits a periodic report, the other releases "
            "it from /release)")
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
