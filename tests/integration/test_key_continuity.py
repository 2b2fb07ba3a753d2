"""Key continuity (PROTOCOL.md §2) at the receiving node, checked where it lands: the partner
file, the audit log, the message that the new key signs, the administrator's list.

``kh.ahtjp`` runs in-process; ``vn.c02`` (the test's ``world``) publishes a next key in a set
signed by the key kh.ahtjp has pinned. The HTTP fetch of the set between real processes is in
``tests/e2e/test_rollover.py``.
"""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomli_w
from fastapi import FastAPI

from gateway.exchange import keyrefresh
from gateway.protocol.jose import (
    PinnedKey,
    SigningKey,
    checkpoint_marking,
    public_jwk,
    thumbprint,
)
from gateway.protocol.keyset import sign_key_set, verify_key_set
from gateway.settings import load_settings
from gateway.trust.keys import KeyStore
from gateway.trust.partners import KeyEntry, PartnerDirectory, pin_keys
from gateway.web.app import create_app
from tests.conftest import ALL_TYPES, NOW, World, make_key
from tests.integration.conftest import Desk, Receiver, start_receiver, write_partner

pytestmark = pytest.mark.anyio
PASSWORD = "a long enough password"


def _jwk(key: SigningKey) -> dict[str, str]:
    return {**public_jwk(key.public_key()), "kid": key.kid, "use": "sig", "alg": key.alg}


def _thumb(key: SigningKey) -> str:
    return thumbprint(public_jwk(key.public_key()))


def _signed_set(receiver: Receiver, *extra: SigningKey) -> bytes:
    current = receiver.world.sender_key
    return sign_key_set(current, {"keys": [_jwk(current), *(_jwk(k) for k in extra)]})


def _pinned(receiver: Receiver) -> dict[str, str]:
    path = receiver.settings.partners_path / "vn.c02.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {k["kid"]: k["thumbprint"] for k in data["keys"]}


def _audit(receiver: Receiver, action: str) -> list[dict[str, Any]]:
    with sqlite3.connect(receiver.db) as conn:
        return [json.loads(d) for (d,) in conn.execute(
            "SELECT detail FROM audit_log WHERE action = ? ORDER BY seq", (action,))]


async def _apply(receiver: Receiver, raw: bytes, **kwargs: Any) -> keyrefresh.RefreshOutcome:
    node = receiver.app.state.node
    return await keyrefresh.apply_vouched(node, keyrefresh.verify_for(node, "vn.c02", raw),
                                          actor="admin", **kwargs)


async def _send_signed_by(receiver: Receiver, key: SigningKey) -> httpx.Response:
    world = receiver.world
    return await receiver.post(world.message(key=key), bearer=world.bearer(key=key))


async def test_confirm_lists_the_key_and_an_administrator_pins_it(desk: Desk) -> None:
    receiver = desk.receiver
    following = make_key("vn.c02", "2027-05", "ES256")
    refused = await _send_signed_by(receiver, following)
    assert refused.status_code == 401  # not pinned: its bearer token does not verify

    outcome = await _apply(receiver, _signed_set(receiver, following))
    assert [k.kid for k in outcome.pending] == [following.kid]
    assert not outcome.pinned
    assert following.kid not in _pinned(receiver)
    (offered,) = _audit(receiver, "partner.key-offered")
    assert offered == {"kid": following.kid, "thumbprint": _thumb(following),
                       "vouched_by": receiver.world.sender_key.kid}
    again = await _apply(receiver, _signed_set(receiver, following))  # the next day's refresh
    assert len(again.pending) == 1
    assert len(_audit(receiver, "partner.key-offered")) == 1

    await desk.add_user("root", "admin")
    listed = (await desk.ok("root", "GET", "/api/admin/partner-keys"))["pending"]
    assert [(o["kid"], o["thumbprint"]) for o in listed] == [(following.kid, _thumb(following))]
    forbidden = await desk.call("chief", "POST", f"/api/admin/partner-keys/{listed[0]['id']}"
                                "/accept")
    assert forbidden.status_code == 403
    done = await desk.ok("root", "POST", f"/api/admin/partner-keys/{listed[0]['id']}/accept")
    assert done["state"] == "accepted"
    assert _pinned(receiver)[following.kid] == _thumb(following)
    (pinned,) = _audit(receiver, "partner.key-pinned")
    assert pinned == {"kid": following.kid, "thumbprint": _thumb(following),
                      "how": "confirmed", "vouched_by": receiver.world.sender_key.kid}
    accepted = await _send_signed_by(receiver, following)
    assert accepted.status_code == 202, accepted.text
    twice = await desk.call("root", "POST", f"/api/admin/partner-keys/{listed[0]['id']}/reject")
    assert twice.status_code == 409
    assert (await desk.ok("root", "GET", "/api/admin/partner-keys"))["pending"] == []


async def test_an_offer_whose_voucher_was_revoked_since_pins_nothing(desk: Desk) -> None:
    """A stolen key offers the thief's key; the partner reports the theft and the stolen key
    is revoked here. An administrator who then accepts the old offer pins nothing (409)."""
    receiver = desk.receiver
    thief = make_key("vn.c02", "2027-05", "ES256")
    await _apply(receiver, _signed_set(receiver, thief))
    await desk.add_user("root", "admin")
    (offer,) = (await desk.ok("root", "GET", "/api/admin/partner-keys"))["pending"]
    path = receiver.settings.partners_path / "vn.c02.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    for pinned in data["keys"]:
        if pinned["kid"] == receiver.world.sender_key.kid:
            pinned["revoked"] = True
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    receiver.app.state.node.reload_partners()
    refused = await desk.call("root", "POST", f"/api/admin/partner-keys/{offer['id']}/accept")
    assert refused.status_code == 409, refused.text
    assert receiver.world.sender_key.kid in refused.json()["detail"]
    assert thief.kid not in _pinned(receiver)
    assert _audit(receiver, "partner.key-pinned") == []
    rejected = await desk.ok("root", "POST", f"/api/admin/partner-keys/{offer['id']}/reject")
    assert rejected["state"] == "rejected"


async def test_a_decision_whose_partner_file_went_bad_is_a_conflict_and_pins_nothing(
        desk: Desk) -> None:
    """The partner file broken by hand between the offer and the decision: the accept is
    refused as a conflict (409, as any decision that cannot be made now), the key stays
    waiting, nothing is pinned or audited as pinned."""
    receiver = desk.receiver
    following = make_key("vn.c02", "2027-05", "ES256")
    await _apply(receiver, _signed_set(receiver, following))
    await desk.add_user("root", "admin")
    (offer,) = (await desk.ok("root", "GET", "/api/admin/partner-keys"))["pending"]
    path = receiver.settings.partners_path / "vn.c02.toml"
    path.write_text(path.read_text(encoding="utf-8") + "\n[[keys]\n", encoding="utf-8")
    refused = await desk.call("root", "POST", f"/api/admin/partner-keys/{offer['id']}/accept")
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"] == "urn:bx:problem:state-conflict"
    assert [o["id"] for o in (await desk.ok("root", "GET", "/api/admin/partner-keys"))[
        "pending"]] == [offer["id"]]
    assert _audit(receiver, "partner.key-pinned") == []


@pytest.mark.parametrize("policy", ["auto", "off"])
async def test_auto_pins_at_once_and_off_only_on_a_thumbprint(tmp_path: Path, world: World,
                                                              policy: str) -> None:
    async for receiver in start_receiver(tmp_path, world, key_continuity=policy):
        following = make_key("vn.c02", "2027-05")
        outcome = await _apply(receiver, _signed_set(receiver, following))
        if policy == "auto":
            assert [k.kid for k in outcome.pinned] == [following.kid]
            assert _audit(receiver, "partner.key-pinned")[0]["how"] == "auto"
            assert (await _send_signed_by(receiver, following)).status_code == 202
        else:
            assert [k.kid for k in outcome.ignored] == [following.kid]
            assert following.kid not in _pinned(receiver)
            assert (await _send_signed_by(receiver, following)).status_code == 401
            handed = await _apply(receiver, _signed_set(receiver, following),
                                  thumbprints=[_thumb(following)])
            assert [k.kid for k in handed.pinned] == [following.kid]
            assert _audit(receiver, "partner.key-pinned")[0]["how"] == "thumbprint"
            assert (await _send_signed_by(receiver, following)).status_code == 202
        assert _audit(receiver, "partner.key-offered") == []


async def test_a_kid_that_comes_back_with_another_key_is_refused_and_audited(
        receiver: Receiver) -> None:
    world = receiver.world
    impostor = make_key("vn.c02", "k1")  # the pinned kid, another key
    raw = sign_key_set(world.sender_key, {"keys": [_jwk(impostor)]})
    before = _pinned(receiver)
    outcome = await _apply(receiver, raw)
    assert [k.kid for k in outcome.refused] == [world.sender_key.kid]
    assert _pinned(receiver) == before
    (alarm,) = _audit(receiver, "partner.key-substitution")
    assert alarm["offered"] == _thumb(impostor)
    assert alarm["pinned"] == _thumb(world.sender_key)


async def test_a_set_signed_by_an_unpinned_key_pins_nothing(receiver: Receiver) -> None:
    stranger = make_key("vn.c02", "2027-05")
    raw = sign_key_set(stranger, {"keys": [_jwk(stranger)]})
    with pytest.raises(keyrefresh.KeyRefreshError, match="not pinned"):
        await _apply(receiver, raw)
    assert stranger.kid not in _pinned(receiver)


async def test_the_node_serves_its_key_set_signed_with_the_next_key_in_it(
        receiver: Receiver) -> None:
    node = receiver.app.state.node
    published = node.keystore.rotate_next("2027-05", NOW)
    response = await receiver.client.get("/bx/v1/.well-known/jwks.jws")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jose+json"
    own = receiver.world.receiver_key
    vouched = verify_key_set(response.content, lambda _node, kid: _pin_of(own, kid), NOW,
                             signer="kh.ahtjp")
    assert vouched.vouching_kid == own.kid
    assert {k.kid for k in vouched.keys} == {own.kid, published.kid}
    # Activated from another process: the running node signs with it at once.
    node.keystore.activate(published.kid)
    assert node.signing_key.kid == published.kid


def _pin_of(key: SigningKey, kid: str) -> PinnedKey | None:
    return PinnedKey(key.kid, key.public_key()) if kid == key.kid else None


async def test_an_administrator_pins_a_key_in_the_console(desk: Desk) -> None:
    receiver = desk.receiver
    following = make_key("vn.c02", "2027-05")
    await _apply(receiver, _signed_set(receiver, following))
    await desk.add_user("root", "admin", password=PASSWORD)
    transport = httpx.ASGITransport(app=receiver.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kh.test") as browser:
        login = await browser.post("/login", data={"username": "root", "password": PASSWORD},
                                   headers={"Origin": "http://kh.test"})
        assert login.status_code == 303
        page = await browser.get("/partners")
        assert following.kid in page.text
        assert _thumb(following) in page.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        action = re.search(r'action="(/partners/keys/\d+)"', page.text)
        assert csrf
        assert action
        unclear = await browser.post(action[1], data={"csrf": csrf[1], "action": "maybe"})
        assert unclear.status_code == 422  # neither pinned nor refused
        assert following.kid not in _pinned(receiver)
        assert _audit(receiver, "partner.key-rejected") == []
        done = await browser.post(action[1], data={"csrf": csrf[1], "action": "accept"})
        assert done.status_code == 303
        assert "done=key-pinned" in done.headers["location"]
        after = await browser.get(done.headers["location"])
        assert 'id="offered-keys"' not in after.text
    assert _pinned(receiver)[following.kid] == _thumb(following)
    assert _audit(receiver, "partner.key-pinned")[0]["how"] == "confirmed"


async def _vn_rolling_over(tmp_path: Path, world: World
                           ) -> AsyncIterator[tuple[Receiver, FastAPI, SigningKey]]:
    """kh.ahtjp (``auto`` continuity) and vn.c02's real app, which publishes a next key
    (yielded) in a set signed by the key kh.ahtjp pinned."""
    vn_settings = load_settings(node_id="vn.c02", data_dir=tmp_path / "vn.c02")
    vn_keys = KeyStore(vn_settings.key_path, "vn.c02")
    world.sender_key = vn_keys.generate("EdDSA", "2026-11", NOW)
    async for receiver in start_receiver(tmp_path, world, key_continuity="auto"):
        write_partner(vn_settings.partners_path, "kh.ahtjp", world.receiver_key)
        following = vn_keys.rotate_next("2027-05", NOW)
        yield receiver, create_app(vn_settings, clock=world.clock, run_worker=False), following


async def test_the_daily_refresh_reads_the_partners_signed_set_over_http(
        tmp_path: Path, world: World) -> None:
    """The worker's round (TrustKeeper.refresh_all) against vn.c02's real app: the signed set
    is fetched from its endpoint, verified and, with ``auto``, its next key pinned."""
    async for receiver, vn_app, following in _vn_rolling_over(tmp_path, world):
        async with vn_app.router.lifespan_context(vn_app):
            transport = httpx.ASGITransport(app=vn_app)
            async with httpx.AsyncClient(transport=transport) as to_vn:
                keeper = keyrefresh.TrustKeeper(receiver.app.state.node, to_vn)
                await keeper.refresh_all()
        assert _pinned(receiver)[following.kid] == following.thumbprint
        (pinned,) = _audit(receiver, "partner.key-pinned")
        assert pinned["how"] == "auto"
        assert pinned["vouched_by"] == "vn.c02#2026-11"


async def test_an_administrator_refreshes_a_partner_through_the_nodes_own_client(
        tmp_path: Path, world: World) -> None:
    """``POST /api/admin/partners/{id}/refresh`` fetches the signed set with the client the
    node made at start (app.state.client: its TLS context, its timeouts), not one of its own:
    here that client reaches vn.c02's real app, and no other could."""
    async for receiver, vn_app, following in _vn_rolling_over(tmp_path, world):
        desk = Desk(receiver)
        await desk.add_user("root", "admin")
        async with vn_app.router.lifespan_context(vn_app):
            own = receiver.app.state.client
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=vn_app)) as to_vn:
                receiver.app.state.client = to_vn
                try:
                    done = await desk.ok("root", "POST", "/api/admin/partners/vn.c02/refresh")
                finally:
                    receiver.app.state.client = own
            unknown = await desk.call("root", "POST", "/api/admin/partners/la.atd/refresh")
        assert [k["kid"] for k in done["pinned"]] == [following.kid]
        assert _pinned(receiver)[following.kid] == following.thumbprint
        (pinned,) = _audit(receiver, "partner.key-pinned")
        assert pinned["how"] == "auto"
        assert unknown.status_code == 404


def test_a_partner_file_changed_by_another_process_is_read_again(tmp_path: Path,
                                                                 world: World) -> None:
    directory = tmp_path / "partners"
    write_partner(directory, "vn.c02", world.sender_key)
    partners = PartnerDirectory.load(directory, ALL_TYPES)
    assert partners.reload_if_changed() is None
    following = make_key("vn.c02", "2027-05")
    pin_keys(directory, "vn.c02", ALL_TYPES,
             [KeyEntry(kid=following.kid, thumbprint=_thumb(following),
                       jwk=public_jwk(following.public_key()))])
    assert partners.reload_if_changed() == []
    assert partners.pinned("vn.c02", following.kid) is not None
    assert partners.reload_if_changed() is None


def _entry(key: SigningKey, **state: Any) -> dict[str, Any]:
    return {"kid": key.kid, "thumbprint": _thumb(key), "jwk": public_jwk(key.public_key()),
            **state}


def _marked(key: SigningKey) -> dict[str, Any]:
    """The JWK of a key as its node publishes a key for checkpoints only (§4.8)."""
    return {**_jwk(key), **checkpoint_marking()}


def _flags(receiver: Receiver) -> dict[str, bool]:
    path = receiver.settings.partners_path / "vn.c02.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {k["kid"]: k.get("checkpoints_only", False) for k in data["keys"]}


async def test_a_set_that_tries_a_substitution_pins_none_of_its_keys(
        tmp_path: Path, world: World) -> None:
    """Issue 24 item 4: with ``auto``, a set that re-binds the pinned kid to another key is
    refused as a substitution, and the new kid it lists beside is not pinned either: a set
    that contradicts what is pinned vouches for nothing."""
    async for receiver in start_receiver(tmp_path, world, key_continuity="auto"):
        impostor = make_key("vn.c02", "k1")  # the pinned kid, another key
        following = make_key("vn.c02", "2027-05")
        before = _pinned(receiver)
        outcome = await _apply(receiver, sign_key_set(world.sender_key, {
            "keys": [_jwk(impostor), _jwk(following)]}))
        assert _pinned(receiver) == before
        assert (await _send_signed_by(receiver, following)).status_code == 401
        assert _audit(receiver, "partner.key-pinned") == []
        assert [k.kid for k in outcome.refused] == [world.sender_key.kid]
        assert [k.kid for k in outcome.withheld] == [following.kid]
        assert outcome.pinned == outcome.pending == []
        (alarm,) = _audit(receiver, "partner.key-substitution")
        assert alarm["offered"] == _thumb(impostor)
        (refused,) = _audit(receiver, "partner.keyset-refused")
        assert refused == {"vouched_by": world.sender_key.kid, "refused": [impostor.kid],
                           "withheld": [following.kid]}


async def test_a_set_that_contradicts_the_pins_offers_nothing_either(desk: Desk) -> None:
    """With ``confirm`` the same set puts nothing before an administrator; a pinned key
    listed under a new kid (which would pin it again, for every use) is a contradiction too."""
    receiver = desk.receiver
    world = receiver.world
    following = make_key("vn.c02", "2027-05")
    alias = SigningKey("vn.c02#alias", world.sender_key.private_key)
    outcome = await _apply(receiver, sign_key_set(world.sender_key, {
        "keys": [_jwk(alias), _jwk(following)]}))
    assert [(k.kid, outcome.why[k.kid]) for k in outcome.refused] == [(alias.kid, "alias")]
    assert [k.kid for k in outcome.withheld] == [following.kid]
    assert outcome.pending == []
    await desk.add_user("root", "admin")
    assert (await desk.ok("root", "GET", "/api/admin/partner-keys"))["pending"] == []
    (alarm,) = _audit(receiver, "partner.key-substitution")
    assert alarm["pinned_as"] == world.sender_key.kid


async def test_a_checkpoint_key_is_pinned_for_checkpoints_only_and_stays_so(
        tmp_path: Path, world: World) -> None:
    """PROTOCOL.md §4.8: a key the signed set marks for checkpoints only is pinned so
    (``auto``) and verifies no message; a later set that lists it for every use is refused
    whole (its other new key withheld); a set it signs itself vouches for nothing."""
    async for receiver in start_receiver(tmp_path, world, key_continuity="auto"):
        checkpoints = make_key("vn.c02", "checkpoints-2026-11")
        outcome = await _apply(receiver, sign_key_set(world.sender_key, {
            "keys": [_jwk(world.sender_key), _marked(checkpoints)]}))
        assert [(k.kid, k.checkpoints_only) for k in outcome.pinned] == [
            (checkpoints.kid, True)]
        assert _flags(receiver) == {world.sender_key.kid: False, checkpoints.kid: True}
        assert _audit(receiver, "partner.key-pinned")[0]["checkpoints_only"] is True
        signed = await _send_signed_by(receiver, checkpoints)
        assert signed.status_code == 401
        following = make_key("vn.c02", "2027-05")
        widened = await _apply(receiver, sign_key_set(world.sender_key, {
            "keys": [_jwk(world.sender_key), _jwk(checkpoints), _jwk(following)]}))
        assert [(k.kid, widened.why[k.kid]) for k in widened.refused] == [
            (checkpoints.kid, "widened")]
        assert [k.kid for k in widened.withheld] == [following.kid]
        assert _flags(receiver) == {world.sender_key.kid: False, checkpoints.kid: True}
        assert len(_audit(receiver, "partner.key-purpose-widened")) == 1
        with pytest.raises(keyrefresh.KeyRefreshError, match="checkpoints"):
            await _apply(receiver, sign_key_set(checkpoints, {
                "keys": [_jwk(world.sender_key), _jwk(checkpoints), _jwk(following)]}))
        assert following.kid not in _pinned(receiver)


async def test_a_key_pinned_before_its_marking_is_narrowed_by_the_next_set(
        tmp_path: Path, world: World) -> None:
    """A partner file written before keys were marked pins the checkpoint key for every use;
    the next signed set that marks it narrows it (trust only shrinks), audited."""
    checkpoints = make_key("vn.c02", "checkpoints-2026-11")
    async for receiver in start_receiver(tmp_path, world, keys=[
            _entry(world.sender_key), _entry(checkpoints, not_after="2027-11-01T00:00:00Z")]):
        accepted = await _send_signed_by(receiver, checkpoints)
        assert accepted.status_code == 202  # what an old partner file lets through
        outcome = await _apply(receiver, sign_key_set(world.sender_key, {
            "keys": [_jwk(world.sender_key), _marked(checkpoints)]}))
        assert [k.kid for k in outcome.narrowed] == [checkpoints.kid]
        assert _flags(receiver)[checkpoints.kid] is True
        data = tomllib.loads((receiver.settings.partners_path / "vn.c02.toml").read_text(
            encoding="utf-8"))
        assert data["keys"][1]["not_after"] == "2027-11-01T00:00:00Z"  # its window kept
        (narrowed,) = _audit(receiver, "partner.key-checkpoints-only")
        assert narrowed["kid"] == checkpoints.kid
        assert (await _send_signed_by(receiver, checkpoints)).status_code == 401


async def test_an_administrator_pins_an_offered_checkpoint_key_for_checkpoints_only(
        desk: Desk) -> None:
    receiver = desk.receiver
    checkpoints = make_key("vn.c02", "checkpoints-2027-05")
    outcome = await _apply(receiver, sign_key_set(receiver.world.sender_key, {
        "keys": [_jwk(receiver.world.sender_key), _marked(checkpoints)]}))
    assert [k.kid for k in outcome.pending] == [checkpoints.kid]
    await desk.add_user("root", "admin")
    (offer,) = (await desk.ok("root", "GET", "/api/admin/partner-keys"))["pending"]
    await desk.ok("root", "POST", f"/api/admin/partner-keys/{offer['id']}/accept")
    assert _flags(receiver)[checkpoints.kid] is True
    assert (await _send_signed_by(receiver, checkpoints)).status_code == 401


async def test_a_signed_set_is_read_as_sent_never_unpacked() -> None:
    """Asked for as sent; a compressed answer (which could unpack into gigabytes) is refused
    unread, as a push's and a pull's answers are."""
    asked: list[str | None] = []

    def packed(request: httpx.Request) -> httpx.Response:
        asked.append(request.headers.get("Accept-Encoding"))
        return httpx.Response(200, headers={"Content-Encoding": "gzip"},
                              content=gzip.compress(b"x" * 100_000))

    async with httpx.AsyncClient(transport=httpx.MockTransport(packed)) as client:
        with pytest.raises(keyrefresh.KeyRefreshError, match="sent compressed"):
            await keyrefresh.fetch_signed_set(client, "http://kh.test/bx/v1")
    assert asked == ["identity"]
