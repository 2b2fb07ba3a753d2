"""The console in a real headless Chromium (Debian's, driven by Playwright) against two real
nodes: a BLO officer's verification request with a photo, four-eyes release, the partner's
answer, the case turning verified; a hotline tip escalated to an alert; refused pages; page
weight and the tablet width. Screenshots go to the test's folder, and the current set of the
main pages, in Vietnamese and Khmer, to docs/screenshots/."""

from __future__ import annotations

import base64
import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api as playwright

from gateway.documents.convert import DocumentForms
from gateway.documents.registry import SchemaRegistry
from tests.conftest import REPO, SCHEMAS, example
from tests.e2e.federation import NodeProcess, make_federation, wait_for

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "a long enough password"
SCREENSHOTS = REPO / "docs" / "screenshots"
PHOTO = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////"
    "////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQAB"
    "PxA=")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, NodeProcess]]:
    root = tmp_path_factory.mktemp("console")
    running = make_federation(root, {"vn.blo-mocbai": "push", "kh.blo-bavet": "push"})
    mocbai, bavet = running["vn.blo-mocbai"], running["kh.blo-bavet"]
    for node, prefix in ((mocbai, "vn"), (bavet, "kh")):
        node.add_user(f"officer.{prefix}", "blo-officer", password=PASSWORD)
        node.add_user(f"chief.{prefix}", "supervisor", password=PASSWORD)
    mocbai.add_user("hotline.vn", "hotline-operator", unit="vn.hotline-111", password=PASSWORD)
    mocbai.add_user("auditor.vn", "auditor", password=PASSWORD)
    yield running
    for node in running.values():
        node.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("make test installs Debian's chromium")
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=["--no-sandbox"])
        yield launched
        launched.close()


class Desk:
    """One user at one node in their own browser context."""

    def __init__(self, browser: Any, node: NodeProcess, username: str, shots: Path,
                 lang: str = "vi", width: int = 1280, height: int = 720) -> None:
        self.base = f"http://127.0.0.1:{node.port}"
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.shots = shots
        self.transferred = 0
        self.page.on("response", self._count)
        self.page.goto(f"{self.base}/lang/{lang}")
        self.page.goto(f"{self.base}/login")
        self.page.fill("#username", username)
        self.page.fill("#password", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{self.base}/")

    def _count(self, response: Any) -> None:
        with contextlib.suppress(Exception):  # redirects have no body
            self.transferred += len(response.body())

    def go(self, path: str) -> Any:
        return self.page.goto(f"{self.base}{path}")

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


def delivered(node: NodeProcess) -> bool:
    lines = node.messages()
    return bool(lines) and all("delivered" in line for line in lines
                               if line.split()[1:2] == ["out"] or " out " in line)


REQUEST_FIELDS = {
    "case-reference": "VN-MOCBAI-2026-0042", "response-wanted-by": "2026-12-10",
    "person.@person-id": "P1", "person.name.native": "Sok Dara",
    "person.name.latin": "SOK Dara", "person.claimed-nationality": "KH",
    "person.birth.estimated-age": "16", "person.photo.0.@attachment": "p1-photo.jpg",
    "victim-status.decided-by.name.latin": "TRAN Van Nam",
    "victim-status.decided-by.unit.name.0.#text": "Đồn Biên phòng Mộc Bài",
    "victim-status.decided-on": "2026-11-23", "found.place.country": "VN",
    "found.time": "2026-11-22T14:00:00Z",
    "found.unit.name.0.#text": "Đồn Biên phòng Mộc Bài",
    "consent.recorded-on": "2026-11-23", "consent.informed-in-language": "km",
    "consent.retention-until": "2031-11-23",
    "requesting-officer.name.latin": "TRAN Van Nam",
    "requesting-officer.unit.name.0.#text": "Văn phòng BLO Mộc Bài",
}
REQUEST_SELECTS = {
    "person.sex": "male", "victim-status.status": "possible-victim",
    "victim-status.decided-by.unit.name.0.@lang": "vi", "found.unit.name.0.@lang": "vi",
    "consent.given": "true", "requesting-officer.unit.name.0.@lang": "vi",
    "handling": "H1", "priority": "urgent",
}


def test_a_verification_request_goes_out_with_four_eyes_and_comes_back_verified(
        nodes: dict[str, NodeProcess], browser: Any, tmp_path: Path) -> None:
    mocbai, bavet = nodes["vn.blo-mocbai"], nodes["kh.blo-bavet"]
    photo = tmp_path / "p1-photo.jpg"
    photo.write_bytes(PHOTO)
    lan = Desk(browser, mocbai, "officer.vn", tmp_path)
    lan.shot("01-home-officer")
    assert lan.transferred < 200_000
    lan.go("/cases")
    lan.page.select_option("select[name=kind] >> nth=1", "repatriation")
    lan.page.select_option("form[action='/cases/new'] select[name=partner]", "kh.blo-bavet")
    lan.page.click("form[action='/cases/new'] button")
    case_url = lan.page.url
    lan.go(case_url.removeprefix(lan.base) + "/compose/verification-request")
    page = lan.page
    assert page.locator("details:not([open])").count() > 3  # optional groups start folded
    page.click("details:has([name='person.photo.0.@attachment']) > summary")
    for name, value in REQUEST_FIELDS.items():
        page.fill(f'[name="{name}"]', value)
    for name, value in REQUEST_SELECTS.items():
        page.select_option(f'[name="{name}"]', value)
    page.set_input_files('[name="file.1"]', str(photo))
    lan.shot("02-compose-with-a-missing-field")
    page.click("#submit-draft")  # the reason is missing
    assert page.locator(".field-error").first.is_visible()
    assert "reason" in (page.locator(".has-error select").first.get_attribute("name") or "")
    assert page.input_value('[name="person.name.latin"]') == "SOK Dara"  # kept as typed
    lan.shot("03-compose-error-beside-the-field")
    page.select_option('[name="reason"]', "repatriation")
    page.set_input_files('[name="file.1"]', str(photo))
    page.click("#submit-draft")
    page.wait_for_url(case_url)
    assert "Chờ duyệt gửi" in page.content()  # submitted, waiting for a supervisor

    chief = Desk(browser, mocbai, "chief.vn", tmp_path)
    chief.go("/release")
    chief.shot("04-release-queue")
    chief.page.click("button[id^=release-]")
    chief.page.wait_for_url(f"{chief.base}/release")
    wait_for(lambda: delivered(mocbai), "the request to be receipted at Bavet")

    sophea = Desk(browser, bavet, "officer.kh", tmp_path, lang="km")
    sophea.go("/cases")
    sophea.page.click("table a[href^='/cases/']")
    their_case = sophea.page.url
    assert "SOK Dara" in sophea.page.content()
    sophea.shot("05-case-at-bavet-km")
    sophea.go(their_case.removeprefix(sophea.base) + "/compose/verification-response")
    answer = sophea.page
    for name, value in {"case-reference": "KH-BAVET-2026-0201", "subject.@person-id": "P1",
                        "officer.name.latin": "CHAN Sophea",
                        "officer.unit.name.0.#text": "Border Liaison Office Bavet"}.items():
        answer.fill(f'[name="{name}"]', value)
    answer.select_option('[name="result"]', "confirmed")
    answer.select_option('[name="officer.unit.name.0.@lang"]', "en")
    answer.click("#submit-draft")
    answer.wait_for_url(their_case)
    chief_kh = Desk(browser, bavet, "chief.kh", tmp_path, lang="km")
    chief_kh.go("/release")
    chief_kh.page.click("button[id^=release-]")
    chief_kh.page.wait_for_url(f"{chief_kh.base}/release")

    def verified() -> bool:
        lan.go(case_url.removeprefix(lan.base))
        return "Đã xác minh" in lan.page.locator("h1").inner_text()

    wait_for(verified, "Moc Bai's case to be verified")
    lan.shot("06-case-verified")
    lan.page.click("table a:has-text('Mở') >> nth=1")
    assert "Kết quả xác minh" in lan.page.content()  # the bilingual answer
    for desk in (lan, chief, sophea, chief_kh):
        desk.close()


def test_a_hotline_tip_becomes_an_alert_to_the_partner(nodes: dict[str, NodeProcess],
                                                      browser: Any, tmp_path: Path) -> None:
    mocbai = nodes["vn.blo-mocbai"]
    desk = Desk(browser, mocbai, "hotline.vn", tmp_path)
    desk.go("/hotline")
    page = desk.page
    page.click("#save-tip")  # nothing written: refused beside the field
    assert page.locator(".field-error").first.is_visible()
    page.fill("#narrative", "Con gái 15 tuổi bị giữ ở nhà nghỉ tại Bavet, sắp bị chuyển đi.")
    page.select_option("#danger", "imminent")
    page.check("input[name=child_involved]")
    page.fill("#foreign_country", "k1")  # wrong: refused, the narrative kept
    page.fill("#person_name_latin", "LO Thi Suong")
    page.fill("#person_age", "15")
    page.click("#save-tip")
    assert page.locator(".field-error").first.is_visible()
    assert "Con gái 15 tuổi" in page.input_value("#narrative")
    page.fill("#foreign_country", "KH")
    page.click("#save-tip")
    page.wait_for_url(f"{desk.base}/hotline")
    desk.shot("07-hotline-tip-recorded")
    assert "Can thiệp khẩn cấp trước" in page.content()  # the 12-hour clock shows
    page.select_option("select[name=alert_to] >> nth=0", "kh.blo-bavet")
    page.fill("input[name=duty_phone] >> nth=0", "+84 24 3826 9111")
    page.click("button[id^=escalate-]")
    page.wait_for_url(f"{desk.base}/cases/*")
    assert "Cảnh báo khẩn" in page.content()
    desk.shot("08-tip-escalated-to-alert")
    wait_for(lambda: delivered(mocbai), "the alert to be receipted")
    desk.close()


def test_users_without_rights_get_refused_pages(nodes: dict[str, NodeProcess], browser: Any,
                                                tmp_path: Path) -> None:
    mocbai = nodes["vn.blo-mocbai"]
    auditor = Desk(browser, mocbai, "auditor.vn", tmp_path)
    response = auditor.go("/cases")
    assert response.status == 403
    assert "Không được phép" in auditor.page.content()
    auditor.shot("09-refused")
    assert auditor.go("/audit").status == 200
    officer = Desk(browser, mocbai, "officer.vn", tmp_path)
    assert officer.go("/audit").status == 403
    assert officer.go("/release").status == 403
    officer.context.clear_cookies()
    officer.go("/cases")
    assert officer.page.url.startswith(f"{officer.base}/login")
    auditor.close()
    officer.close()


def test_pages_are_light_fit_a_tablet_and_are_kept_as_screenshots(
        nodes: dict[str, NodeProcess], browser: Any, tmp_path: Path) -> None:
    """Runs after the flows above, so that the pages have something to show."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    mocbai, bavet = nodes["vn.blo-mocbai"], nodes["kh.blo-bavet"]
    forms = DocumentForms(SchemaRegistry.load(SCHEMAS))
    for node, suffix, partner in ((mocbai, "vn", "kh.blo-bavet"), (bavet, "kh", "vn.blo-mocbai")):
        with node.session(f"officer.{suffix}", PASSWORD) as api:  # a draft for the queue
            case = api.post("/cases", json={"kind": "repatriation", "partner": partner}).json()
            draft = api.post(f"/cases/{case['id']}/drafts", json={
                "type": "case-closure", "to": partner, "handling": "H1",
                "document": forms.read("case-closure", "1.0", example("case-closure"))}).json()
            assert api.post(f"/drafts/{draft['id']}/submit").json()["state"] == "submitted"
    pages = {"officer.vn": ["/", "/cases", "/partners"], "chief.vn": ["/release"],
             "hotline.vn": ["/hotline"], "auditor.vn": ["/audit"]}
    for lang, node, suffix in (("vi", mocbai, "vn"), ("km", bavet, "kh")):
        names = {"officer.vn": f"officer.{suffix}", "chief.vn": f"chief.{suffix}",
                 "hotline.vn": "hotline.vn", "auditor.vn": "auditor.vn"}
        for user, paths in pages.items():
            where = mocbai if user in ("hotline.vn", "auditor.vn") else node
            desk = Desk(browser, where, names[user], tmp_path, lang=lang)
            for path in paths:
                desk.transferred = 0
                assert desk.go(path).status == 200, (user, lang, path)
                assert desk.transferred < 200_000, (path, desk.transferred)
                name = {"/": "home", "/cases": "cases", "/partners": "partners",
                        "/release": "release", "/hotline": "hotline", "/audit": "audit"}[path]
                shutil.copy(desk.shot(f"{name}-{lang}"), SCREENSHOTS / f"{name}-{lang}.png")
            if user == "officer.vn":
                desk.go("/cases")
                desk.page.click("table a:has-text('-00001')")  # the case of the first test
                shutil.copy(desk.shot(f"case-{lang}"), SCREENSHOTS / f"case-{lang}.png")
                case_path = desk.page.url.removeprefix(desk.base)
                desk.go(case_path + "/compose/verification-request")
                shutil.copy(desk.shot(f"compose-{lang}"), SCREENSHOTS / f"compose-{lang}.png")
            desk.close()
    for lang, node in (("vi", mocbai), ("km", bavet)):
        login = browser.new_page()
        login.goto(f"http://127.0.0.1:{node.port}/lang/{lang}")
        login.goto(f"http://127.0.0.1:{node.port}/login")
        login.screenshot(path=str(SCREENSHOTS / f"login-{lang}.png"))
        login.close()
    reader = Desk(browser, mocbai, "officer.vn", tmp_path)
    reader.go("/cases")
    reader.page.click("table a:has-text('-00001')")
    reader.page.click("table a:has-text('Mở') >> nth=0")
    shutil.copy(reader.shot("document-vi"), SCREENSHOTS / "document-vi-km.png")
    assert reader.go("/audit").status == 403
    shutil.copy(reader.shot("refused-vi"), SCREENSHOTS / "refused-vi.png")
    reader.close()
    chief = Desk(browser, mocbai, "chief.vn", tmp_path)
    chief.go("/release")
    chief.page.click("button[value=return]")  # no reason given: refused beside the field
    assert chief.page.locator(".field-error").first.is_visible()
    chief.page.fill("input[name=reason]", "Add the closure date")
    chief.page.click("button[value=return]")
    assert "Không có gì chờ duyệt" in chief.page.content()
    chief.close()
    tablet = Desk(browser, mocbai, "officer.vn", tmp_path, width=768, height=1024)
    for path in ("/", "/cases", "/partners"):
        assert tablet.go(path).status == 200, path
        overflow = tablet.page.evaluate(
            "document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)
    shutil.copy(tablet.shot("cases-tablet"), SCREENSHOTS / "cases-tablet-vi.png")
    tablet.close()


def test_no_page_failed_on_the_server(nodes: dict[str, NodeProcess]) -> None:
    """Runs last: whatever the browser did, no node logged a server error."""
    for node in nodes.values():
        log = node.log_path.read_text(encoding="utf-8")
        assert "Exception in ASGI application" not in log, node.node_id
