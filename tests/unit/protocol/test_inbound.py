"""verify_message: every problem code of PROTOCOL.md §4.2, and the order of the checks."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest

from gateway.protocol import bearer as bearer_module
from gateway.protocol import inbound
from gateway.protocol.bearer import NOT_VERIFIED
from gateway.protocol.encoding import b64url_decode, b64url_encode
from gateway.protocol.envelope import MAX_MESSAGE_BYTES, Attachment
from gateway.protocol.inbound import check_duplicate, verify_message
from gateway.protocol.jose import alg_of
from gateway.protocol.problems import PROTOCOL_CODES, Problem
from gateway.protocol.ratelimit import RateLimiter
from tests.conftest import World, example, make_key, pin, resign

PHOTO = Attachment("p1-photo.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + b"photo" * 100)


def refused(world: World, raw: bytes, bearer: str | None = "", **kw: Any) -> Problem:
    with pytest.raises(Problem) as caught:
        verify_message(raw, world.bearer() if bearer == "" else bearer, world.ctx, **kw)
    return caught.value


def header_of(raw: bytes) -> dict[str, Any]:
    header: dict[str, Any] = json.loads(b64url_decode(json.loads(raw)["protected"]))
    return header


def with_header(world: World, raw: bytes, change: Any) -> bytes:
    header = header_of(raw)
    change(header)
    return resign(world.sender_key, json.loads(raw), header=header)


def test_a_good_message_verifies(world: World) -> None:
    raw = world.message("verification-request", attachments=(PHOTO,), priority="urgent")
    verified = verify_message(raw, world.bearer(), world.ctx)
    assert verified.raw == raw
    assert verified.sender == "vn.c02"
    assert verified.header.bx.priority == "urgent"
    assert verified.attachments == {PHOTO.name: PHOTO.data}
    assert verified.document == example("verification-request")
    body = json.loads(raw)
    expected = hashlib.sha256(f"{body['protected']}.{body['payload']}".encode()).hexdigest()
    assert verified.digest == f"sha256:{expected}"


def test_every_example_of_every_type_verifies(world: World) -> None:
    for doc_type in sorted(set(world.registry.types()) - {"periodic-report"}):  # below
        for index in range(len(list((world.registry.resolve(doc_type, "1.0").path.parent
                                     / "examples").glob("*.xml")))):
            raw = world.message(doc_type, document=example(doc_type, index))
            assert verify_message(raw, world.bearer(), world.ctx).header.bx.type == doc_type


def test_a_periodic_report_is_accepted_only_by_the_collecting_node(world: World) -> None:
    # vn.c02 sends to kh.ahtjp here: MESSAGES.md keeps periodic reports inside the country
    problem = refused(world, world.message("periodic-report",
                                           document=example("periodic-report")))
    assert problem.code == "not-permitted"
    assert "vn.c02" in problem.detail


# --- malformed -------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    b"not json", b"[1, 2]", b'{"protected": "e30", "payload": "", "signature": 5}',
    b'{"payload": "", "signature": ""}', "{\"protected\": \"\u00e9\"}".encode(),
    b'{"signatures": [], "payload": ""}', b"\xff\xfe{}",
])
def test_not_a_flattened_jws_is_malformed(world: World, raw: bytes) -> None:
    assert refused(world, raw).code == "malformed"


@pytest.mark.parametrize("change", [
    lambda h: h["bx"].pop("id"),
    lambda h: h["bx"].update(priority="high"),
    lambda h: h["bx"].update(v="1"),
    lambda h: h["bx"].update(v=True),
    lambda h: h["bx"].update(id="0B6F7A9E-1C2D-4E3F-8A9B-0C1D2E3F4A5B"),
    lambda h: h["bx"].update(created="2026-11-24T08:00:00+07:00"),
    lambda h: h["bx"].update(created="2026-02-30T08:00:00Z"),
    lambda h: h["bx"].update(handling="H9"),
    lambda h: h["bx"].update(lang="fr"),
    lambda h: h["bx"].update(version="1"),
    lambda h: h["bx"].update(surprise=1),
    lambda h: h.update(typ="JWT"),
    lambda h: h.update(cty="text/xml"),
    lambda h: h.pop("kid"),
    lambda h: h.update(crit=["b64"], b64=False),
    lambda h: h.pop("bx"),
])
def test_header_members_missing_or_ill_typed_are_malformed(world: World, change: Any) -> None:
    problem = refused(world, with_header(world, world.message(), change))
    assert problem.code == "malformed"
    assert problem.status == 400


def test_duplicate_header_member_is_malformed(world: World) -> None:
    body = json.loads(world.message())
    text = b64url_decode(body["protected"]).decode()
    doubled = text[:-1] + ',"typ":"bx+jws"}'
    raw = resign(world.sender_key, body, header=None)
    body["protected"] = b64url_encode(doubled.encode())
    problem = refused(world, json.dumps(body).encode())
    assert raw
    assert problem.code == "malformed"
    assert "duplicate" in problem.detail


def test_padded_or_non_canonical_base64url_is_malformed(world: World) -> None:
    body = json.loads(world.message())
    body["signature"] += "=="
    assert refused(world, json.dumps(body).encode()).code == "malformed"


def test_members_beyond_the_four_are_ignored(world: World) -> None:
    body = json.loads(world.message())
    body["comment"] = "ignored"
    assert verify_message(json.dumps(body).encode(), world.bearer(), world.ctx)


# --- unauthenticated -------------------------------------------------------------------


def test_missing_bearer_is_unauthenticated(world: World) -> None:
    assert refused(world, world.message(), bearer=None).code == "unauthenticated"


def test_expired_bearer_is_unauthenticated(world: World) -> None:
    old = world.bearer(now=world.now - timedelta(seconds=121 + 61))
    assert refused(world, world.message(), bearer=old).code == "unauthenticated"


def test_bearer_within_clock_skew_is_accepted(world: World) -> None:
    skewed = world.bearer(now=world.now - timedelta(seconds=121 + 50))
    assert verify_message(world.message(), skewed, world.ctx)


def test_replayed_bearer_is_unauthenticated(world: World) -> None:
    token = world.bearer()
    verify_message(world.message(), token, world.ctx)
    problem = refused(world, world.message(), bearer=token)
    assert problem.code == "unauthenticated"
    assert "replayed" in problem.detail


def test_bearer_for_another_audience_is_unauthenticated(world: World) -> None:
    token = world.bearer(audience="la.atd")
    assert refused(world, world.message(), bearer=token).code == "unauthenticated"


def test_bearer_of_another_partner_cannot_carry_the_message(world: World) -> None:
    other = make_key("la.atd")
    world.set_policy("la.atd", [pin(other)])
    token = world.bearer(key=other, issuer="la.atd")
    problem = refused(world, world.message(), bearer=token)
    assert problem.code == "unauthenticated"
    assert "cannot carry" in problem.detail


def test_bearer_signed_by_unpinned_key_is_unauthenticated(world: World) -> None:
    token = world.bearer(key=make_key("vn.c02", "k2"))
    assert refused(world, world.message(), bearer=token).code == "unauthenticated"


def test_bearer_living_longer_than_300_s_is_unauthenticated(world: World) -> None:
    now = int(world.now.timestamp())
    token = pyjwt.encode({"iss": "vn.c02", "sub": "vn.c02", "aud": "kh.ahtjp", "iat": now,
                          "exp": now + 301, "jti": "x"}, world.sender_key.private_key,
                         algorithm="EdDSA", headers={"kid": world.sender_key.kid})
    assert refused(world, world.message(), bearer=token).code == "unauthenticated"


# --- bad-signature ---------------------------------------------------------------------


def test_unknown_kid_is_bad_signature(world: World) -> None:
    stranger = make_key("vn.c02", "k9")
    assert refused(world, world.message(key=stranger)).code == "bad-signature"


def test_revoked_key_is_bad_signature(world: World) -> None:
    raw = world.message()
    token = world.bearer()
    world.set_policy("vn.c02", [pin(world.sender_key, revoked=True)])
    # The bearer is refused first: a revoked key authenticates nothing.
    assert refused(world, raw, bearer=token).code == "unauthenticated"
    assert refused(world, raw, bundle=True).code == "bad-signature"


def test_key_outside_its_window_is_bad_signature(world: World) -> None:
    world.set_policy("vn.c02", [pin(world.sender_key, not_after=world.now - timedelta(days=1))])
    assert refused(world, world.message(), bundle=True).code == "bad-signature"
    world.set_policy("vn.c02", [pin(world.sender_key, not_before=world.now + timedelta(days=1))])
    assert refused(world, world.message(), bundle=True).code == "bad-signature"


def test_a_key_for_checkpoints_only_signs_no_message_and_no_token(world: World) -> None:
    """PROTOCOL.md §4.8: an ES256 node's Ed25519 checkpoint key, pinned so, verifies no
    message (pushed, pulled or from a bundle) and no bearer token, though valid and
    unrevoked."""
    signing = make_key("vn.c02", "2026-11", "ES256")
    checkpoints = make_key("vn.c02", "checkpoints-2026-11")
    world.set_policy("vn.c02", [pin(signing), pin(checkpoints, checkpoints_only=True)])
    raw = world.message(key=checkpoints)
    problem = refused(world, raw, bearer=world.bearer(key=signing))
    assert problem.code == "bad-signature"
    assert "checkpoints" in problem.detail
    assert refused(world, raw, bundle=True).code == "bad-signature"
    good = world.message(key=signing)
    assert refused(world, good, bearer=world.bearer(key=checkpoints)).code == "unauthenticated"
    assert verify_message(good, world.bearer(key=signing), world.ctx).sender == "vn.c02"


def test_alg_that_does_not_match_the_pinned_key_is_bad_signature(world: World) -> None:
    raw = resign(world.sender_key, json.loads(world.message()), alg="ES256")
    assert refused(world, raw).code == "bad-signature"


def test_signature_that_does_not_verify_is_bad_signature(world: World) -> None:
    body = json.loads(world.message())
    signature = bytearray(b64url_decode(body["signature"]))
    signature[0] ^= 1
    body["signature"] = b64url_encode(bytes(signature))
    assert refused(world, json.dumps(body).encode()).code == "bad-signature"


# --- unknown-sender, not-permitted, unsupported-type -----------------------------------


def test_unknown_sender(world: World) -> None:
    stranger = make_key("la.atd")
    raw = world.message(key=stranger, sender="la.atd")
    assert refused(world, raw, bundle=True).code == "unknown-sender"
    # Pushed, the stranger's own bearer token already names an unknown node: refused as a
    # token that does not verify, in the same words (PROTOCOL.md §4.1).
    token = world.bearer(key=stranger, issuer="la.atd")
    unknown = refused(world, raw, bearer=token)
    forged = refused(world, world.message(), bearer=world.bearer(key=make_key("vn.c02")))
    assert (unknown.code, unknown.detail) == (forged.code, forged.detail) == (
        "unauthenticated", NOT_VERIFIED)


def test_every_token_without_a_usable_key_costs_a_real_verification(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same time: an unknown node, a key of another algorithm than the token's, and a bad
    signature each cost one verification by a key of the token's own algorithm (a check that
    ends before any cryptography would tell a stranger which nodes are partners)."""
    real = bearer_module.verify_bytes
    work: list[bool] = []

    def counted(key: Any, alg: str, signing_input: bytes, signature: bytes) -> bool:
        work.append(alg_of(key) == alg)
        return real(key, alg, signing_input, signature)

    monkeypatch.setattr(bearer_module, "verify_bytes", counted)
    es256_of_partner = make_key("vn.c02", world.sender_key.kid.split("#")[1], "ES256")
    for token in (world.bearer(key=make_key("la.atd"), issuer="la.atd"),  # unknown node
                  world.bearer(key=es256_of_partner),  # the pinned kid, another algorithm
                  world.bearer(key=make_key("vn.c02", world.sender_key.kid.split("#")[1]))):
        work.clear()
        problem = refused(world, world.message(), bearer=token)
        assert (problem.code, problem.detail) == ("unauthenticated", NOT_VERIFIED)
        assert work == [True], work


def test_type_the_partner_may_not_send(world: World) -> None:
    world.set_policy("vn.c02", [pin(world.sender_key)], may_send=frozenset({"alert"}))
    problem = refused(world, world.message("verification-response"))
    assert (problem.code, problem.status) == ("not-permitted", 403)


def test_unknown_type_and_unknown_major_version(world: World) -> None:
    raw = world.message("verification-response")
    unknown_type = with_header(world, raw, lambda h: h["bx"].update(type="visa-request"))
    assert refused(world, unknown_type).code == "unsupported-type"
    unknown_major = world.message("verification-response", version="2.0")
    assert refused(world, unknown_major).code == "unsupported-type"


def test_unknown_minor_version_is_validated_against_the_known_one(world: World) -> None:
    raw = world.message("verification-response", version="1.7")
    assert verify_message(raw, world.bearer(), world.ctx).header.bx.version == "1.7"


# --- wrong-recipient, stale, future ----------------------------------------------------


def test_message_for_another_node_is_wrong_recipient(world: World) -> None:
    problem = refused(world, world.message(to="kh.blo-bavet"))
    assert (problem.code, problem.status) == ("wrong-recipient", 421)


def test_created_too_far_ahead_is_future(world: World) -> None:
    assert refused(world, world.message(created=world.now + timedelta(seconds=301))).code \
        == "future"
    assert verify_message(world.message(created=world.now + timedelta(seconds=299)),
                          world.bearer(), world.ctx)


def test_created_before_max_age_is_stale(world: World) -> None:
    raw = world.message(created=world.now - timedelta(days=30, seconds=1))
    assert refused(world, raw).code == "stale"
    world.set_policy("vn.c02", [pin(world.sender_key)], max_age=timedelta(days=60))
    assert verify_message(raw, world.bearer(), world.ctx)


# --- attachments ------------------------------------------------------------------------


def _attachments(raw: bytes, change: Any) -> bytes:
    body = json.loads(raw)
    change(body)
    return json.dumps(body).encode()


@pytest.mark.parametrize("change", [
    lambda b: b.pop("attachments"),
    lambda b: b["attachments"].append({"name": "extra.png", "data": "AAAA"}),
    lambda b: b["attachments"][0].update(data=b64url_encode(b"other bytes")),
    lambda b: b["attachments"][0].update(name="renamed.jpg"),
    lambda b: b["attachments"].append(dict(b["attachments"][0])),
])
def test_attachment_mismatch(world: World, change: Any) -> None:
    raw = _attachments(world.message("verification-request", attachments=(PHOTO,)), change)
    assert refused(world, raw).code == "attachment-mismatch"


def test_attachment_with_signed_size_wrong(world: World) -> None:
    raw = world.message("verification-request", attachments=(PHOTO,))
    changed = with_header(world, raw, lambda h: h["bx"]["attachments"][0].update(size=1))
    assert refused(world, changed).code == "attachment-mismatch"


def test_attachment_not_declared(world: World) -> None:
    raw = _attachments(world.message(), lambda b: b.update(
        attachments=[{"name": "x.pdf", "data": "AAAA"}]))
    assert refused(world, raw).code == "attachment-mismatch"


def test_attachment_media_type_outside_the_list_is_malformed(world: World) -> None:
    raw = world.message("verification-request", attachments=(PHOTO,))
    changed = with_header(world, raw,
                          lambda h: h["bx"]["attachments"][0].update(media_type="image/gif"))
    assert refused(world, changed).code == "malformed"


# --- too-large --------------------------------------------------------------------------


def test_body_over_20_mib_is_too_large(world: World) -> None:
    raw = b" " * (MAX_MESSAGE_BYTES + 1)
    problem = refused(world, raw, bearer=None)
    assert (problem.code, problem.status) == ("too-large", 413)


def test_document_over_1_mib_is_too_large(world: World) -> None:
    document = example("alert").replace(b"</alert>", b"<!--" + b"x" * (1024 * 1024) + b"-->"
                                        b"</alert>")
    assert refused(world, world.message("alert", document=document)).code == "too-large"


def test_attachment_over_10_mib_is_too_large(world: World) -> None:
    big = Attachment("scan.pdf", "application/pdf", b"%PDF" + b"0" * (10 * 1024 * 1024))
    raw = world.message("verification-request", attachments=(big,))
    assert refused(world, raw).code == "too-large"


def test_nothing_is_parsed_before_the_bearer_token_is_checked(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """PROTOCOL.md §4.1: an unauthenticated caller costs the bytes of one body, never the
    work of parsing it."""
    parsed: list[bytes] = []
    real = inbound.parse_body
    monkeypatch.setattr(inbound, "parse_body", lambda raw: parsed.append(raw) or real(raw))
    garbage = b"[" * 100_000 + b"]" * 100_000
    assert refused(world, garbage, bearer=None).code == "unauthenticated"
    assert refused(world, world.message("alert"), bearer="not.a.jwt").code == \
        "unauthenticated"
    assert parsed == []
    assert refused(world, garbage).code == "malformed"  # with a valid token: parsed, refused
    assert parsed == [garbage]


@pytest.mark.parametrize("depth", [33, 5000, 200_000])
def test_deep_json_is_malformed_never_a_crash(world: World, depth: int) -> None:
    body = json.loads(world.message("alert"))
    body["x"] = json.loads("[" * min(depth, 900) + "]" * min(depth, 900)) if depth < 900 \
        else None
    raw = json.dumps(body).encode() if depth < 900 else \
        world.message("alert")[:-1] + b', "x": ' + b"[" * depth + b"]" * depth + b"}"
    assert refused(world, raw).code == "malformed"


# --- schema-invalid ---------------------------------------------------------------------


def test_invalid_document_is_schema_invalid_with_located_errors(world: World) -> None:
    document = example("verification-response").replace(b"<result>confirmed</result>",
                                                        b"<result>maybe</result>")
    problem = refused(world, world.message(document=document))
    assert (problem.code, problem.status) == ("schema-invalid", 422)
    error = problem.errors[0]
    assert error.line == 8
    assert error.path == "/verification-response/result"
    assert "maybe" in error.message
    assert problem.as_dict()["errors"][0]["line"] == 8


def test_document_of_another_type_is_schema_invalid(world: World) -> None:
    raw = world.message("verification-response", document=example("alert"))
    assert refused(world, raw).code == "schema-invalid"


def test_doctype_in_document_is_schema_invalid(world: World) -> None:
    document = b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e "e">]>\n' + \
        example("alert").split(b"\n", 1)[1]
    assert refused(world, world.message("alert", document=document)).code == "schema-invalid"


# --- conflict and rate-limited (decided around verify_message) --------------------------


def test_same_id_with_same_digest_is_a_duplicate_and_another_digest_a_conflict(
        world: World) -> None:
    verified = verify_message(world.message(), world.bearer(), world.ctx)
    assert check_duplicate(verified, None) is False
    assert check_duplicate(verified, verified.digest) is True
    with pytest.raises(Problem) as caught:
        check_duplicate(verified, "sha256:" + "0" * 64)
    assert (caught.value.code, caught.value.status) == ("conflict", 409)


def test_rate_limit_answers_rate_limited_with_retry_after(world: World) -> None:
    limiter = RateLimiter(world.clock)
    for _ in range(3):
        limiter.take("vn.c02", 3)
    with pytest.raises(Problem) as caught:
        limiter.take("vn.c02", 3)
    assert (caught.value.code, caught.value.status) == ("rate-limited", 429)
    assert caught.value.retry_after == 20
    limiter.take("la.atd", 3)  # another partner has its own bucket
    world.now += timedelta(seconds=20)
    limiter.take("vn.c02", 3)


# --- the order of the checks ------------------------------------------------------------


def test_size_is_checked_before_the_bearer(world: World) -> None:
    assert refused(world, b"x" * (MAX_MESSAGE_BYTES + 1), bearer=None).code == "too-large"


def test_bearer_is_checked_before_the_structure(world: World) -> None:
    assert refused(world, b"not json", bearer=None).code == "unauthenticated"


def test_structure_is_checked_before_the_sender(world: World) -> None:
    stranger = make_key("la.atd")
    raw = with_header(world, world.message(key=stranger, sender="la.atd"),
                      lambda h: h["bx"].update(priority="soon"))
    assert refused(world, raw, bundle=True).code == "malformed"


def test_sender_is_checked_before_the_signature(world: World) -> None:
    stranger = make_key("la.atd")
    body = json.loads(world.message(key=stranger, sender="la.atd"))
    body["signature"] = b64url_encode(b"\0" * 64)
    assert refused(world, json.dumps(body).encode(), bundle=True).code == "unknown-sender"


def test_signature_is_checked_before_the_recipient(world: World) -> None:
    body = json.loads(world.message(to="la.atd"))
    body["signature"] = b64url_encode(b"\0" * 64)
    assert refused(world, json.dumps(body).encode()).code == "bad-signature"


def test_recipient_is_checked_before_the_time(world: World) -> None:
    raw = world.message(to="la.atd", created=world.now - timedelta(days=90))
    assert refused(world, raw).code == "wrong-recipient"


def test_time_is_checked_before_attachments(world: World) -> None:
    raw = _attachments(world.message("verification-request", attachments=(PHOTO,),
                                     created=world.now - timedelta(days=90)),
                       lambda b: b.pop("attachments"))
    assert refused(world, raw).code == "stale"


def test_attachments_are_checked_before_the_schema(world: World) -> None:
    raw = _attachments(world.message("verification-request", document=b"<bad/>",
                                     attachments=(PHOTO,)), lambda b: b.pop("attachments"))
    assert refused(world, raw).code == "attachment-mismatch"


def test_bundles_skip_only_the_bearer(world: World) -> None:
    assert verify_message(world.message(), None, world.ctx, bundle=True)
    assert refused(world, world.message(to="la.atd"), bearer=None, bundle=True).code \
        == "wrong-recipient"


def test_algorithm_is_judged_before_the_sender(world: World) -> None:
    stranger = make_key("la.atd")
    raw = resign(stranger, json.loads(world.message(key=stranger, sender="la.atd")),
                 alg="none", sign=lambda _: b"")
    assert refused(world, raw, bundle=True).code == "bad-signature"



def test_every_problem_code_is_produced_by_a_test_here() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    tests = source.split("def test_every_problem_code")[0]
    missing = [code for code in sorted(PROTOCOL_CODES) if f'"{code}"' not in tests]
    assert missing == []


def test_an_attachment_that_is_not_what_it_declares_is_refused(world: World) -> None:
    fake = Attachment("p1-photo.jpg", "image/jpeg", b"MZ\x90\x00 an executable, not a photo")
    raw = world.message("verification-request", attachments=(fake,))
    problem = refused(world, raw)
    assert problem.code == "attachment-mismatch"
    assert "not the image/jpeg it declares" in problem.detail
