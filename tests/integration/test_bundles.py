"""Hostile bundles (PROTOCOL.md §4.6): whatever the ZIP holds, the import answers one line,
stores nothing it should not, and checks each message against its file name and the
manifest's sender before anything is kept."""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path

import pytest

from gateway.exchange import bundles
from gateway.exchange.bundles import BundleError, import_bundle
from gateway.exchange.inbound import peek_message
from gateway.protocol.envelope import new_message_id
from gateway.protocol.jose import public_jwk, thumbprint
from tests.conftest import World, example, make_key
from tests.integration.conftest import Receiver, start_receiver, write_partner

pytestmark = pytest.mark.anyio


def manifest(count: int, sender: str = "vn.c02", **extra: object) -> bytes:
    return json.dumps({"bx_bundle": 1, "from": sender, "to": "kh.ahtjp",
                       "created": "2026-11-24T08:00:00Z", "count": count, **extra}).encode()


def bundle(path: Path, members: list[tuple[str, bytes]],
           compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a duplicate name, on purpose
        with zipfile.ZipFile(path, "w", compression=compression) as archive:
            for name, data in members:
                archive.writestr(name, data)
    return path


def _id(raw: bytes) -> str:
    found = peek_message(raw)[1]
    assert found is not None
    return found


async def stored(receiver: Receiver) -> int:
    return receiver.count("messages")


async def test_a_good_bundle_still_imports(receiver: Receiver, tmp_path: Path) -> None:
    raw = receiver.world.message("case-closure", example("case-closure"))
    path = bundle(tmp_path / "good.zip", [("manifest.json", manifest(1)),
                                         (f"messages/{_id(raw)}.json", raw)])
    report = await import_bundle(receiver.app.state.node, path)
    assert report.accepted == [_id(raw)]


async def test_a_zip_bomb_is_refused_before_anything_is_read_whole(
        receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = bundle(tmp_path / "bomb.zip", [("manifest.json", manifest(1)),
                                          (f"messages/{new_message_id()}.json",
                                           b"0" * (16 * 1024 * 1024))])
    assert bomb.stat().st_size < 100_000
    read: list[str] = []
    real = zipfile.ZipFile.read
    monkeypatch.setattr(zipfile.ZipFile, "read",
                        lambda self, name, pwd=None: read.append(str(name)) or real(self, name))
    with pytest.raises(BundleError, match="inflates more than 100 times"):
        await import_bundle(receiver.app.state.node, bomb)
    assert read == []  # nothing was read into memory
    assert await stored(receiver) == 0


async def test_a_bundle_larger_than_the_cap_once_uncompressed_is_refused(
        receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundles, "MAX_BUNDLE_BYTES", 1000)
    raw = receiver.world.message("case-closure", example("case-closure"))
    path = bundle(tmp_path / "big.zip", [("manifest.json", manifest(1)),
                                        (f"messages/{_id(raw)}.json", raw)],
                  zipfile.ZIP_STORED)
    with pytest.raises(BundleError, match="once uncompressed"):
        await import_bundle(receiver.app.state.node, path)
    assert await stored(receiver) == 0


async def test_a_message_under_another_file_name_is_refused_before_it_is_kept(
        receiver: Receiver, tmp_path: Path) -> None:
    raw = receiver.world.message("case-closure", example("case-closure"))
    path = bundle(tmp_path / "renamed.zip", [("manifest.json", manifest(1)),
                                            (f"messages/{new_message_id()}.json", raw)])
    report = await import_bundle(receiver.app.state.node, path)
    assert [(code, "differs" in detail) for _, code, detail in report.refused] == [
        ("malformed", True)]
    assert report.accepted == []
    assert await stored(receiver) == 0  # not stored, not receipted


async def test_a_message_from_another_sender_than_the_manifest_is_refused(
        receiver: Receiver, tmp_path: Path) -> None:
    write_partner(receiver.settings.partners_path, "la.atd", make_key("la.atd"))
    assert receiver.app.state.node.reload_partners() == []
    raw = receiver.world.message("case-closure", example("case-closure"))  # from vn.c02
    path = bundle(tmp_path / "mixed.zip", [("manifest.json", manifest(1, sender="la.atd")),
                                          (f"messages/{_id(raw)}.json", raw)])
    report = await import_bundle(receiver.app.state.node, path)
    assert [code for _, code, _ in report.refused] == ["not-permitted"]
    assert await stored(receiver) == 0


@pytest.mark.parametrize("case", ["two manifests", "deep manifest", "bad crc", "encrypted"])
async def test_a_damaged_or_hostile_zip_is_one_line_and_imports_nothing(
        receiver: Receiver, tmp_path: Path, case: str) -> None:
    raw = receiver.world.message("case-closure", example("case-closure"))
    member = (f"messages/{_id(raw)}.json", raw)
    if case == "two manifests":
        path = bundle(tmp_path / "z.zip", [("manifest.json", manifest(1)), member,
                                          ("manifest.json", manifest(1, sender="la.atd"))])
        said = "more than once"
    elif case == "deep manifest":
        path = bundle(tmp_path / "z.zip", [("manifest.json", b"[" * 5000 + b"]" * 5000),
                                          member])
        said = "nests deeper"
    else:
        path = bundle(tmp_path / "z.zip", [("manifest.json", manifest(1)), member],
                      zipfile.ZIP_STORED)
        data = bytearray(path.read_bytes())
        if case == "bad crc":
            at = bytes(data).index(b'"payload"')
            data[at + 12] ^= 0x01  # one bit of the stored message
            said = "damaged"
        else:  # the "encrypted" flag on every header
            for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
                start = 0
                while (start := bytes(data).find(signature, start)) != -1:
                    data[start + offset] |= 0x01
                    start += 4
            said = "encrypted"
        path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=said) as caught:
        await import_bundle(receiver.app.state.node, path)
    assert "\n" not in str(caught.value)
    assert await stored(receiver) == 0



async def test_a_message_signed_by_a_key_for_checkpoints_only_is_refused(
        tmp_path: Path, world: World) -> None:
    """PROTOCOL.md §4.8 on a removable medium: vn.c02's Ed25519 checkpoint key, pinned for
    checkpoints only, signs a message in a bundle; the import refuses it ``bad-signature``
    and keeps nothing of it, while a message of its signing key in the same bundle imports."""
    checkpoints = make_key("vn.c02", "checkpoints-2026-11")
    jwk = public_jwk(checkpoints.public_key())
    async for receiver in start_receiver(tmp_path, world, keys=[
            {"kid": world.sender_key.kid, "jwk": public_jwk(world.sender_key.public_key()),
             "thumbprint": thumbprint(public_jwk(world.sender_key.public_key()))},
            {"kid": checkpoints.kid, "jwk": jwk, "thumbprint": thumbprint(jwk),
             "checkpoints_only": True}]):
        forged = world.message("case-closure", example("case-closure"), key=checkpoints)
        good = world.message("case-closure", example("case-closure"))
        path = bundle(tmp_path / "mixed.zip", [("manifest.json", manifest(2)),
                                              (f"messages/{_id(forged)}.json", forged),
                                              (f"messages/{_id(good)}.json", good)])
        report = await import_bundle(receiver.app.state.node, path)
        assert [(found, code) for found, code, _ in report.refused] == [
            (_id(forged), "bad-signature")]
        assert report.accepted == [_id(good)]
        assert await stored(receiver) == 1
