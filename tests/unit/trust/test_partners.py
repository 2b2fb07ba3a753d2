"""The partner directory: the TOML format, fail-closed checks, reload, enrolment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from gateway.protocol.jose import SigningKey, checkpoint_marking, public_jwk, thumbprint
from gateway.trust.keys import PublishedKey
from gateway.trust.partners import (
    PartnerDirectory,
    PartnerFileError,
    check_partner_files,
    enrol_partner,
    proof_keys,
    read_partner_file,
    select_keys,
)
from tests.conftest import ALL_TYPES, NOW, REPO, make_key

PROFILES = REPO / "partners"


def partner_data(node: str = "kh.ahtjp", **changes: Any) -> dict[str, Any]:
    key = make_key(node, "2026-11")
    jwk = public_jwk(key.public_key())
    data: dict[str, Any] = {
        "id": node, "country": "KH", "languages": ["km", "en"], "delivery": "push",
        "endpoint": "https://gw.example.kh/bx/v1", "max_age_days": 30, "deadline_hours": 72,
        "may_send": ["verification-request", "verification-response"],
        "name": {"vi": "Cục ...", "en": "Department ...", "km": "នាយកដ្ឋាន"},
        "keys": [{"kid": key.kid, "thumbprint": thumbprint(jwk), "jwk": jwk,
                  "not_before": "2026-11-01T00:00:00Z", "not_after": "2027-11-01T00:00:00Z",
                  "revoked": False}],
    }
    data.update(changes)
    return data


def write(directory: Path, data: dict[str, Any], name: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name or data['id']}.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def problems_for(tmp_path: Path, data: dict[str, Any], name: str | None = None) -> str:
    path = write(tmp_path, data, name)
    with pytest.raises(PartnerFileError) as caught:
        read_partner_file(path, ALL_TYPES)
    return str(caught.value)


def test_the_node_md_format_loads(tmp_path: Path) -> None:
    data = read_partner_file(write(tmp_path, partner_data()), ALL_TYPES)
    assert data.id == "kh.ahtjp"
    assert data.keys[0].not_before is not None
    assert data.keys[0].pinned().usable_at(NOW)
    assert data.rate_per_minute > 0


def test_thumbprint_mismatch_is_refused(tmp_path: Path) -> None:
    data = partner_data()
    data["keys"][0]["thumbprint"] = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    assert "thumbprint does not match" in problems_for(tmp_path, data)


def test_id_that_differs_from_the_file_name_is_refused(tmp_path: Path) -> None:
    assert "differs from the file name" in problems_for(tmp_path, partner_data(),
                                                        name="kh.blo-bavet")


def test_kid_of_another_node_is_refused(tmp_path: Path) -> None:
    data = partner_data()
    data["keys"][0]["kid"] = "la.atd#2026-11"
    assert "kid names another node" in problems_for(tmp_path, data)


def test_unknown_type_in_may_send_is_refused(tmp_path: Path) -> None:
    assert "unknown document types: visa" in problems_for(
        tmp_path, partner_data(may_send=["alert", "visa"]))


def test_push_without_endpoint_is_refused(tmp_path: Path) -> None:
    data = partner_data()
    del data["endpoint"]
    assert "no endpoint" in problems_for(tmp_path, data)
    data["delivery"] = "pull"
    assert read_partner_file(write(tmp_path, data), ALL_TYPES).delivery == "pull"


@pytest.mark.parametrize(("change", "message"), [
    ({"delivery": "carrier-pigeon"}, "delivery"),
    ({"country": "Cambodia"}, "country"),
    ({"surprise": True}, "surprise"),
    ({"name": {"km": "only khmer"}}, "name.vi is missing"),
])
def test_other_faults_name_the_field(tmp_path: Path, change: dict[str, Any],
                                     message: str) -> None:
    assert message in problems_for(tmp_path, partner_data(**change))


def test_a_private_jwk_is_refused(tmp_path: Path) -> None:
    data = partner_data()
    data["keys"][0]["jwk"]["d"] = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
    assert "private key" in problems_for(tmp_path, data)


def test_not_toml_is_refused_with_the_place(tmp_path: Path) -> None:
    (tmp_path / "kh.ahtjp.toml").write_text('id = "kh.ahtjp\n')
    with pytest.raises(PartnerFileError, match="not TOML"):
        read_partner_file(tmp_path / "kh.ahtjp.toml", ALL_TYPES)


def test_directory_load_fails_closed(tmp_path: Path) -> None:
    write(tmp_path, partner_data())
    bad = partner_data("la.atd", country="LA")
    bad["keys"][0]["thumbprint"] = "x"
    write(tmp_path, bad)
    with pytest.raises(PartnerFileError) as caught:
        PartnerDirectory.load(tmp_path, ALL_TYPES)
    assert len(caught.value.problems) == 1
    assert "la.atd" in caught.value.problems[0]


def test_revocation_takes_effect_on_reload(tmp_path: Path) -> None:
    data = partner_data()
    write(tmp_path, data)
    directory = PartnerDirectory.load(tmp_path, ALL_TYPES, clock=lambda: NOW)
    kid = data["keys"][0]["kid"]
    key = directory.pinned("kh.ahtjp", kid)
    assert key is not None
    assert key.usable_at(NOW)
    data["keys"][0]["revoked"] = True
    write(tmp_path, data)
    assert directory.reload() == []
    revoked = directory.pinned("kh.ahtjp", kid)
    assert revoked is not None
    assert not revoked.usable_at(NOW)
    partner = directory.get("kh.ahtjp")
    assert partner is not None
    assert partner.key_states(NOW) == [(kid, "revoked")]


def test_a_file_gone_bad_on_reload_drops_that_partner(tmp_path: Path) -> None:
    write(tmp_path, partner_data())
    write(tmp_path, partner_data("la.atd", country="LA"))
    directory = PartnerDirectory.load(tmp_path, ALL_TYPES)
    (tmp_path / "la.atd.toml").write_text("broken = [")
    problems = directory.reload()
    assert len(problems) == 1
    assert directory.policy("la.atd") is None
    assert directory.policy("kh.ahtjp") is not None


def test_key_states(tmp_path: Path) -> None:
    data = partner_data()
    write(tmp_path, data)
    partner = PartnerDirectory.load(tmp_path, ALL_TYPES).get("kh.ahtjp")
    assert partner is not None
    assert partner.key_states(NOW)[0][1] == "valid"
    assert partner.key_states(NOW + timedelta(days=400))[0][1] == "expired"
    assert partner.key_states(NOW - timedelta(days=60))[0][1] == "not-yet-valid"


def test_repository_profiles_cover_the_agencies() -> None:
    expected = {"vn.c02", "vn.blo-mocbai", "vn.blo-xamat", "kh.ahtjp", "kh.blo-bavet",
                "la.atd", "vn.blo-laobao", "la.blo-dansavanh", "kh.blo-trapeangphlong"}
    assert {p.stem for p in PROFILES.glob("*.toml")} == expected
    for path in PROFILES.glob("*.toml"):
        profile = read_partner_file(path, ALL_TYPES, profile=True)
        assert profile.keys == []
        assert profile.endpoint is None
        native = {"VN": "vi", "KH": "km", "LA": "lo"}[profile.country]
        assert set(profile.name) == {"vi", "en", "km", "lo"}, path.name  # every reader's
        assert all(text.strip() for text in profile.name.values())
        assert profile.languages[0] == native or profile.country == "VN"
        assert profile.may_send


def _jwks(*keys: Any) -> dict[str, Any]:
    return {"keys": [{**public_jwk(k.public_key()), "kid": k.kid, "use": "sig",
                      "alg": k.alg} for k in keys]}


def test_enrol_pins_only_keys_whose_thumbprint_was_handed_over(tmp_path: Path) -> None:
    handed, other = make_key("kh.ahtjp", "2026-11"), make_key("kh.ahtjp", "spare")
    tp = thumbprint(public_jwk(handed.public_key()))
    keys = select_keys("kh.ahtjp", _jwks(handed, other), [tp])
    assert [k.kid for k in keys] == [handed.kid]
    path = enrol_partner(PROFILES / "kh.ahtjp.toml", tmp_path, ALL_TYPES, keys,
                         "https://gw.example.kh/bx/v1")
    data = read_partner_file(path, ALL_TYPES)
    assert data.keys[0].thumbprint == tp
    assert data.endpoint == "https://gw.example.kh/bx/v1"
    assert data.name["km"]
    # Re-enrolling after the partner rotated adds the new key and keeps the old one.
    tp2 = thumbprint(public_jwk(other.public_key()))
    enrol_partner(PROFILES / "kh.ahtjp.toml", tmp_path, ALL_TYPES,
                  select_keys("kh.ahtjp", _jwks(handed, other), [tp2]), None)
    assert [k.kid for k in read_partner_file(path, ALL_TYPES).keys] == [handed.kid, other.kid]


def test_enrol_refuses_a_thumbprint_that_matches_nothing(tmp_path: Path) -> None:
    with pytest.raises(PartnerFileError, match="matches no key"):
        select_keys("kh.ahtjp", _jwks(make_key("kh.ahtjp")),
                    ["kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"])


def test_enrol_refuses_a_key_that_claims_another_node(tmp_path: Path) -> None:
    foreign = make_key("la.atd")
    tp = thumbprint(public_jwk(foreign.public_key()))
    with pytest.raises(PartnerFileError, match=r"not a key id of kh\.ahtjp"):
        select_keys("kh.ahtjp", _jwks(foreign), [tp])


def test_enrol_refuses_a_substituted_key_under_a_pinned_kid(tmp_path: Path) -> None:
    first, impostor = make_key("kh.ahtjp", "2026-11"), make_key("kh.ahtjp", "2026-11")
    for key in (first, impostor):
        tp = thumbprint(public_jwk(key.public_key()))
        keys = select_keys("kh.ahtjp", _jwks(key), [tp])
        if key is first:
            enrol_partner(PROFILES / "kh.ahtjp.toml", tmp_path, ALL_TYPES, keys,
                          "https://gw.example.kh/bx/v1")
        else:
            with pytest.raises(PartnerFileError, match="pinned with another key"):
                enrol_partner(PROFILES / "kh.ahtjp.toml", tmp_path, ALL_TYPES, keys, None)


def test_check_partner_files_reports_every_problem(tmp_path: Path) -> None:
    write(tmp_path, partner_data(may_send=["nope"]))
    write(tmp_path, partner_data("la.atd", country="LA"), name="la.other")
    partners, problems = check_partner_files(tmp_path, ALL_TYPES)
    assert partners == {}
    assert len(problems) == 2


def _marked_jwks(*keys: Any) -> dict[str, Any]:
    """A JWK Set whose keys are marked for checkpoints only, as an ES256 node publishes its
    Ed25519 checkpoint key (PROTOCOL.md §4.8)."""
    return {"keys": [{**jwk, **checkpoint_marking()} for jwk in _jwks(*keys)["keys"]]}


def test_enrol_pins_a_marked_key_for_checkpoints_only_and_keeps_it_so(tmp_path: Path) -> None:
    signing, checkpoints = make_key("la.atd", "2026-11", "ES256"), make_key(
        "la.atd", "checkpoints-2026-11")
    published = {"keys": [*_jwks(signing)["keys"], *_marked_jwks(checkpoints)["keys"]]}
    handed = [thumbprint(public_jwk(k.public_key())) for k in (signing, checkpoints)]
    keys = select_keys("la.atd", published, handed)
    assert [(k.kid, k.checkpoints_only) for k in keys] == [
        (signing.kid, False), (checkpoints.kid, True)]
    path = enrol_partner(PROFILES / "la.atd.toml", tmp_path, ALL_TYPES, keys,
                         "https://gw.example.la/bx/v1")
    text = path.read_text(encoding="utf-8")
    assert text.count("checkpoints_only = true") == 1
    assert "checkpoints_only = false" not in text  # written only where it says something
    pinned = {k.kid: k.pinned() for k in read_partner_file(path, ALL_TYPES).keys}
    assert not pinned[checkpoints.kid].usable_at(NOW)  # verifies no message, receipt, set
    assert pinned[checkpoints.kid].valid_at(NOW)  # but notes and cosignatures
    assert pinned[signing.kid].usable_at(NOW)
    # enrolled again from a set that no longer marks it: refused, never widened
    with pytest.raises(PartnerFileError, match="pinned for checkpoints only"):
        enrol_partner(PROFILES / "la.atd.toml", tmp_path, ALL_TYPES,
                      select_keys("la.atd", _jwks(checkpoints), handed[1:]), None)
    assert read_partner_file(path, ALL_TYPES).keys[1].checkpoints_only


def test_a_key_pinned_before_the_marking_is_narrowed_by_an_enrolment_that_marks_it(
        tmp_path: Path) -> None:
    key = make_key("kh.ahtjp", "checkpoints-2026-11")
    tp = thumbprint(public_jwk(key.public_key()))
    path = enrol_partner(PROFILES / "kh.ahtjp.toml", tmp_path, ALL_TYPES,
                         select_keys("kh.ahtjp", _jwks(key), [tp]),
                         "https://gw.example.kh/bx/v1")
    assert not read_partner_file(path, ALL_TYPES).keys[0].checkpoints_only
    enrol_partner(PROFILES / "kh.ahtjp.toml", tmp_path, ALL_TYPES,
                  select_keys("kh.ahtjp", _marked_jwks(key), [tp]), None)
    assert read_partner_file(path, ALL_TYPES).keys[0].checkpoints_only


def test_enrol_refuses_a_pinned_key_under_another_kid(tmp_path: Path) -> None:
    key = make_key("kh.ahtjp", "2026-11")
    tp = thumbprint(public_jwk(key.public_key()))
    enrol_partner(PROFILES / "kh.ahtjp.toml", tmp_path, ALL_TYPES,
                  select_keys("kh.ahtjp", _jwks(key), [tp]), "https://gw.example.kh/bx/v1")
    again = SigningKey("kh.ahtjp#again", key.private_key)
    with pytest.raises(PartnerFileError, match=r"pinned as kh\.ahtjp#2026-11"):
        enrol_partner(PROFILES / "kh.ahtjp.toml", tmp_path, ALL_TYPES,
                      select_keys("kh.ahtjp", _jwks(again), [tp]), None)


@pytest.mark.parametrize(("marking", "fault"), [
    ({"bx_use": "messages"}, "is not 'checkpoints'"),
    ({"bx_use": "checkpoints", "key_ops": ["sign", "verify"]}, "key_ops"),
])
def test_enrol_refuses_a_marking_it_does_not_understand(marking: dict[str, Any],
                                                        fault: str) -> None:
    key = make_key("kh.ahtjp")
    published = {"keys": [{**_jwks(key)["keys"][0], **marking}]}
    with pytest.raises(PartnerFileError, match=fault):
        select_keys("kh.ahtjp", published, [thumbprint(public_jwk(key.public_key()))])


def test_an_old_partner_file_reads_and_a_p256_key_cannot_be_for_checkpoints(
        tmp_path: Path) -> None:
    old = read_partner_file(write(tmp_path, partner_data()), ALL_TYPES)  # no such member
    assert not old.keys[0].checkpoints_only
    key = make_key("kh.ahtjp", "2026-11", "ES256")
    jwk = public_jwk(key.public_key())
    data = partner_data(keys=[{"kid": key.kid, "thumbprint": thumbprint(jwk), "jwk": jwk,
                               "checkpoints_only": True}])
    assert "checkpoints only must be Ed25519" in problems_for(tmp_path, data)


def test_the_keys_a_node_verifies_proofs_with_keep_the_checkpoint_marking() -> None:
    """A proof checked on a node refuses a message or receipt signed by a checkpoint key:
    the node's own checkpoint key is listed with its marking (PROTOCOL.md §4.8)."""
    signing, checkpoint = make_key("la.atd", "2026-12", "ES256"), make_key("la.atd", "cp")
    own = [PublishedKey(k.kid, public_jwk(k.public_key()), "2026-12-01", checkpoints=marked)
           for k, marked in ((signing, False), (checkpoint, True))]
    listed = {entry["kid"]: entry["jwk"] for entry in proof_keys("la.atd", own, [])}
    assert listed[checkpoint.kid].items() >= checkpoint_marking().items()
    assert "bx_use" not in listed[signing.kid]
