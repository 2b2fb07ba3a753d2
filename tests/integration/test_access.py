"""Access: every route of the local API against the permission matrix, and sessions (log-in,
lock-out, time-outs, log-out, CSRF for the cookie)."""

from __future__ import annotations

import asyncio
import re
import threading
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi.routing import APIRoute

from gateway.access import users
from gateway.access.roles import ALL_ROLES, HUMAN_ROLES, PERMISSIONS, allowed
from gateway.web import limits, routing
from gateway.web.app import LOCAL_API_ROUTERS
from gateway.web.routing import LocalApiRoute
from tests.integration.conftest import Desk

pytestmark = pytest.mark.anyio

PATH_VALUES = {"country": "VN", "year": "2026", "username": "nobody",
               "message_id": "00000000-0000-4000-8000-000000000000"}


def _actions(dependant: Any) -> list[str | None]:
    found = []
    for sub in dependant.dependencies:
        if hasattr(sub.call, "action"):
            found.append(sub.call.action)
        found.extend(_actions(sub))
    return found


def api_routes(app: Any) -> list[tuple[str, str, str | None]]:
    """(method, path, action) of every route under /api; the app's OpenAPI document must
    list the same routes, so none can hide outside the routers walked here."""
    out = []
    for router in LOCAL_API_ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            # the caller checked before its body is read: every route, whatever its router
            assert isinstance(route, LocalApiRoute), f"{route.path} is not a LocalApiRoute"
            actions = _actions(route.dependant)
            assert len(actions) == 1, f"{route.path} must name exactly one action: {actions}"
            out.extend((method, route.path, actions[0]) for method in sorted(route.methods))
    documented = {(method.upper(), path) for path, item in app.openapi()["paths"].items()
                  for method in item if path.startswith("/api/")}
    assert documented == {(m, p) for m, p, _ in out}
    return out


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m[1], "1"), path)


async def test_every_api_route_answers_as_the_permission_matrix_says(desk: Desk) -> None:
    routes = api_routes(desk.receiver.app)
    assert len(routes) > 40
    assert {a for _, _, a in routes} - {None} == set(PERMISSIONS), "matrix and routes differ"
    assert [(m, p) for m, p, a in routes if a is None] == [("POST", "/api/session")]
    for role in HUMAN_ROLES:
        if role not in ("blo-officer", "supervisor"):
            await desk.add_user(role.replace("-", "."), role)
    who = {"blo-officer": "officer", "supervisor": "chief",
           **{r: r.replace("-", ".") for r in HUMAN_ROLES
              if r not in ("blo-officer", "supervisor")}}
    token = desk.receiver.app.state.api_token
    headers = {**{role: desk.headers[name] for role, name in who.items()},
               "machine": {"Authorization": f"Bearer {token}"}}
    checked = 0
    for method, path, action in routes:
        if action is None:
            continue
        url = concrete(path)
        body = {"json": {}} if method in ("POST", "PUT") else {}
        anonymous = await desk.client.request(method, url, **body)
        assert anonymous.status_code == 401, f"{method} {path} without a session"
        for role in ALL_ROLES:
            if (method, path) == ("DELETE", "/api/session"):
                continue  # logging out would end the session the other routes use
            response = await desk.client.request(method, url, headers=headers[role], **body)
            if allowed(role, action):
                assert response.status_code not in (401, 403), \
                    f"{role} {method} {path}: {response.status_code} {response.text}"
            else:
                assert response.status_code == 403, f"{role} {method} {path}"
                assert response.headers["content-type"] == "application/problem+json"
            checked += 1
    assert checked > 40 * len(ALL_ROLES)


async def asgi_post(app: Any, method: str, path: str, headers: dict[str, str],
                    body: bytes, *, chunked: bool = False) -> tuple[int, int]:
    """``body`` sent to the app as a server hands it over, 4 KiB at a time: the answer's
    status, and how many of the body's bytes the app had asked for."""
    pieces = [body[at:at + 4096] for at in range(0, len(body), 4096)] or [b""]
    asked = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not pieces:
            await asyncio.sleep(3600)  # the client waits for its answer
        piece = pieces.pop(0)
        asked += len(piece)
        return {"type": "http.request", "body": piece, "more_body": bool(pieces)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    framing = [(b"transfer-encoding", b"chunked")] if chunked else [
        (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "root_path": "", "query_string": b"", "server": ("kh.test", 80),
             "client": ("10.1.2.3", 5000), "headers": [
                 (b"host", b"kh.test"), (b"content-type", b"application/json"), *framing,
                 *((k.lower().encode(), v.encode()) for k, v in headers.items())]}
    await app(scope, receive, send)
    return sent[0]["status"], asked


async def test_a_stranger_costs_no_byte_of_a_body_and_a_login_only_a_few(desk: Desk) -> None:
    """Every local API route that takes a body, asked without a session, is refused 401
    before the app asks for a byte of it, however large it is said (or not said) to be; the
    login, the one route open to all, takes 16 KiB; each route its own limit."""
    app = desk.receiver.app
    routes = [r for router in LOCAL_API_ROUTERS for r in router.routes
              if isinstance(r, LocalApiRoute) and r.body_field is not None]
    assert len(routes) > 15
    big = b'{"q": [' + b"[]," * 300_000 + b"[]]}"  # 900 KB: within the API's 1 MiB
    for route in routes:
        method = sorted(route.methods)[0]
        if route.path == "/api/session":
            continue
        for chunked in (False, True):
            status, asked = await asgi_post(app, method, concrete(route.path), {}, big,
                                            chunked=chunked)
            assert (status, asked) == (401, 0), (method, route.path, chunked, status, asked)
    limited = {(sorted(r.methods)[0], r.path): r.body_limit for r in routes}
    assert limited[("POST", "/api/session")] == limits.LOGIN_BODY == 16 * 1024
    assert limited[("POST", "/api/cases/{case_id}/drafts")] == limits.DRAFT_BODY
    assert limited[("PUT", "/api/drafts/{draft_id}")] == limits.DRAFT_BODY
    assert limited[("POST", "/api/search")] == limits.API_BODY
    assert max(limited.values()) == limits.body_limit("/api/")  # the front's coarse limit
    # the login: more than 16 KiB said is refused unread, more sent is refused at 16 KiB
    status, asked = await asgi_post(app, "POST", "/api/session", {}, big)
    assert (status, asked) == (413, 0)
    status, asked = await asgi_post(app, "POST", "/api/session", {}, big, chunked=True)
    assert status == 413
    assert asked <= limits.LOGIN_BODY + 4096
    # a session does not lift a route's limit: a search takes 1 MiB, not the 72 of a draft
    token = {"Authorization": desk.headers["officer"]["Authorization"]}
    over = b'{"q": "' + b"a" * limits.API_BODY + b'"}'
    for chunked in (False, True):
        status, asked = await asgi_post(app, "POST", "/api/search", token, over,
                                        chunked=chunked)
        assert status == 413, chunked
        assert asked <= limits.API_BODY + 4096


async def test_a_large_body_is_parsed_off_the_loop_and_its_values_counted_first(
        desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """A known caller's large JSON body is parsed on a worker thread, and a body of more
    values than any request needs (the parser holds the interpreter while it runs, thread or
    not) is refused before it is parsed."""
    threads: list[bool] = []
    real = routing.parse_large

    def watched(body: bytes) -> Any:
        threads.append(threading.current_thread() is threading.main_thread())
        return real(body)

    monkeypatch.setattr(routing, "parse_large", watched)
    padded = {"q": "Nguyen " * 20_000}  # 140 KB: parsed off the loop
    answer = await desk.call("officer", "POST", "/api/search", json=padded)
    assert answer.status_code == 422  # the search's own answer: q is too long
    assert threads == [False]
    many = b'{"q": [' + b"0," * (routing.MAX_JSON_VALUES + 1) + b"0]}"  # 400 KB of values
    refused = await desk.call("officer", "POST", "/api/search", content=many,
                              headers={"Content-Type": "application/json"})
    assert refused.status_code == 413
    assert "values" in refused.json()["detail"]
    assert len(threads) == 2  # counted on the worker thread, never parsed
    for broken in (b"[" * 70_000, b'{"q": "' + b"a" * 70_000):  # too deep; not JSON
        small = await desk.call("officer", "POST", "/api/search", content=broken[:5000],
                                headers={"Content-Type": "application/json"})
        large = await desk.call("officer", "POST", "/api/search", content=broken,
                                headers={"Content-Type": "application/json"})
        assert large.status_code == small.status_code < 500  # said as for a small body
        assert large.json()["detail"] == small.json()["detail"]


async def test_failed_logins_slow_the_guesser_not_the_user_and_say_nothing_of_names(
        desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = {"username": "officer", "password": "not the password at all"}
    hashed: list[str] = []
    real = users._verify
    monkeypatch.setattr(users, "_verify", lambda h, p: hashed.append(h) or real(h, p))
    unknown = await desk.client.post("/api/session", json={**wrong, "username": "ghost"})
    first = await desk.client.post("/api/session", json=wrong)
    assert unknown.status_code == first.status_code == 401
    assert unknown.json()["detail"] == first.json()["detail"]
    assert len(hashed) == 2  # the same Argon2 work for a name that does not exist
    for _ in range(4):  # five failures for this name from this address
        await desk.client.post("/api/session", json=wrong)
    slowed = await desk.client.post("/api/session", json={
        "username": "officer", "password": desk.passwords["officer"]})
    assert slowed.status_code == 429  # from this address, for this name: wait
    assert int(slowed.headers["Retry-After"]) >= 1
    ghost = await desk.client.post("/api/session", json={**wrong, "username": "ghost"})
    for _ in range(4):
        ghost = await desk.client.post("/api/session", json={**wrong, "username": "ghost"})
    assert ghost.status_code == 429  # the same answer for a name that does not exist
    assert ghost.json()["detail"] == slowed.json()["detail"].replace(
        slowed.headers["Retry-After"], ghost.headers["Retry-After"])
    # another address is not locked out: the right password opens the account there
    elsewhere = httpx.AsyncClient(transport=httpx.ASGITransport(
        app=desk.receiver.app, client=("10.9.8.7", 4000)), base_url="http://kh.test")
    async with elsewhere:
        opened = await elsewhere.post("/api/session", json={
            "username": "officer", "password": desk.passwords["officer"]})
    assert opened.status_code == 200
    desk.receiver.world.now += timedelta(seconds=5)  # the delay passes: here too
    assert (await desk.login("officer"))["Authorization"].startswith("Bearer ")


async def test_login_hashes_off_the_event_loop(desk: Desk, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    loops: list[bool] = []
    real = users._verify

    def spy(password_hash: str, password: str) -> bool:
        try:
            asyncio.get_running_loop()
            loops.append(True)
        except RuntimeError:
            loops.append(False)
        return real(password_hash, password)

    monkeypatch.setattr(users, "_verify", spy)
    await desk.client.post("/api/session", json={"username": "ghost", "password": "x" * 12})
    assert loops == [False]  # in a worker thread, not on the loop


async def test_changing_ones_password_needs_the_current_one(desk: Desk) -> None:
    path = "/api/session/password"
    refused = await desk.call("officer", "POST", path, json={
        "current_password": "a guess that is wrong", "password": "a brand new long password"})
    assert refused.status_code == 401
    changed = await desk.call("officer", "POST", path, json={
        "current_password": desk.passwords["officer"], "password": "a brand new long password"})
    assert changed.status_code == 200, changed.text
    desk.passwords["officer"] = "a brand new long password"
    assert (await desk.login("officer"))["Authorization"].startswith("Bearer ")


async def test_a_login_posted_from_another_site_is_refused(desk: Desk) -> None:
    form = {"username": "officer", "password": desk.passwords["officer"]}
    foreign = await desk.client.post("/login", data=form,
                                     headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert "bx_session" not in foreign.cookies
    own = await desk.client.post("/login", data=form, headers={"Origin": "http://kh.test"})
    assert own.status_code == 303
    desk.client.cookies.clear()


async def test_sessions_lapse_when_idle_and_at_the_absolute_limit(desk: Desk) -> None:
    assert (await desk.call("officer", "GET", "/api/session")).status_code == 200
    desk.receiver.world.now += timedelta(minutes=31)
    idle = await desk.call("officer", "GET", "/api/session")
    assert idle.status_code == 401
    assert "inactivity" in idle.json()["detail"]
    await desk.login("officer")
    for _ in range(12 * 3):
        desk.receiver.world.now += timedelta(minutes=20)
        response = await desk.call("officer", "GET", "/api/session")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


async def test_logout_disable_and_password_change_end_sessions(desk: Desk) -> None:
    assert (await desk.call("officer", "DELETE", "/api/session")).status_code == 200
    assert (await desk.call("officer", "GET", "/api/cases")).status_code == 401
    admin = await desk.add_user("admin", "admin")
    await desk.login("officer")
    disabled = await desk.client.post("/api/users/officer/disable", headers=admin)
    assert disabled.status_code == 200
    assert (await desk.call("officer", "GET", "/api/cases")).status_code == 401
    again = await desk.client.post("/api/session", json={
        "username": "officer", "password": desk.passwords["officer"]})
    assert again.status_code == 401
    current = desk.passwords["chief"]
    short = await desk.call("chief", "POST", "/api/session/password",
                            json={"current_password": current, "password": "short"})
    assert short.status_code == 422
    assert "12 characters" in short.json()["detail"]
    assert (await desk.call("chief", "POST", "/api/session/password", json={
        "current_password": current, "password": "a brand new pass phrase"})).status_code == 200
    assert (await desk.call("chief", "GET", "/api/cases")).status_code == 401


async def test_a_forged_or_foreign_token_is_refused(desk: Desk) -> None:
    forged = jwt.encode({"sid": "x", "sub": "chief", "iat": 0, "exp": 2**40},
                        b"k" * 32, algorithm="HS256")
    response = await desk.client.get("/api/cases",
                                     headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_the_console_cookie_needs_the_csrf_header_to_change_anything(
        desk: Desk) -> None:
    login = await desk.client.post("/api/session", json={
        "username": "officer", "password": desk.passwords["officer"]})
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
    token, csrf = login.json()["token"], login.json()["csrf"]
    desk.client.cookies.clear()
    desk.client.cookies.set("bx_session", token)
    read = await desk.client.get("/api/cases")
    assert read.status_code == 200
    body = {"kind": "verification"}
    refused = await desk.client.post("/api/cases", json=body)
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.json()["detail"]
    made = await desk.client.post("/api/cases", json=body, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201


async def test_admins_manage_users_and_calendars_but_see_no_cases(desk: Desk) -> None:
    admin = await desk.add_user("admin", "admin")
    bad = await desk.client.post("/api/users", headers=admin, json={
        "username": "x", "display_name": "X", "role": "god", "unit": "kh.ahtjp",
        "password": "a long enough password"})
    assert bad.status_code == 422
    listed = (await desk.client.get("/api/users", headers=admin)).json()["users"]
    assert {u["username"] for u in listed} == {"officer", "chief", "admin"}
    holidays = {"holidays": [{"date": "2026-12-24", "name": "Office closed"}]}
    saved = await desk.client.put("/api/calendars/KH/2026", headers=admin, json=holidays)
    assert saved.status_code == 200
    shown = await desk.ok("officer", "GET", "/api/calendars/KH/2026")
    assert shown["origin"] == "package+local"
    assert {"date": "2026-12-24", "name": "Office closed"} in shown["holidays"]
    assert len(shown["holidays"]) > 10  # the public holidays come from the holidays package
    wrong_year = await desk.client.put("/api/calendars/KH/2026", headers=admin, json={
        "holidays": [{"date": "2027-01-01", "name": "New Year"}]})
    assert wrong_year.status_code == 422
    assert (await desk.call("officer", "PUT", "/api/calendars/KH/2026",
                            json=holidays)).status_code == 403
    assert (await desk.client.get("/api/cases", headers=admin)).status_code == 403


async def test_every_route_is_documented_with_an_example_and_its_problems(desk: Desk) -> None:
    document = desk.receiver.app.openapi()
    operations = [(path, method, op) for path, item in document["paths"].items()
                  if path.startswith("/api/") for method, op in item.items()]
    assert len(operations) > 40
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        success = [code for code in op["responses"] if code.startswith("2")]
        assert len(success) == 1, where
        assert "example" in op["responses"][success[0]]["content"]["application/json"], where
        problems = [code for code in op["responses"] if code[0] in "45"]
        assert problems, where
        for code in problems:
            assert "application/problem+json" in op["responses"][code]["content"], where
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body:
            schema = body["schema"]
            if "$ref" in schema:
                schema = document["components"]["schemas"][schema["$ref"].split("/")[-1]]
            assert schema.get("examples") or body.get("example"), f"{where}: body example"


async def test_a_stranger_costs_the_console_no_more_than_a_login(desk: Desk) -> None:
    """A console form (or any path outside the APIs) asked without a live session takes no
    more than a login's 16 KiB: said larger, refused unread; sent larger, refused at 16 KiB.
    A live session's cookie lifts it to the forms' limit."""
    app = desk.receiver.app
    big = b"note=" + b"a" * 900_000
    token = desk.headers["officer"]["Authorization"].removeprefix("Bearer ")
    for path in ("/cases/1/notes", "/nope"):
        for cookie in ({}, {"Cookie": "bx_session=forged-or-ended"}):
            status, asked = await asgi_post(app, "POST", path, cookie, big)
            assert (status, asked) == (413, 0), (path, cookie)
            status, asked = await asgi_post(app, "POST", path, cookie, big, chunked=True)
            assert status == 413, (path, cookie)
            assert asked <= limits.LOGIN_BODY + 4096
        status, asked = await asgi_post(app, "POST", path, {"Cookie": f"bx_session={token}"},
                                        big)
        assert status != 413, path
        assert asked == len(big)
