"""The node's HTTP clients share one TLS context (``gateway.web.app._clients``): every one of
them (httpx's client, aiohttp's pushers) still refuses a partner's server that no trusted CA
vouches for, or that shows another name's certificate, and trusts the CA file an operator
names in SSL_CERT_FILE."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.exchange.pushing import PushFailedError
from gateway.web.app import DELIVERIES_AT_ONCE, _clients

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _certificate(folder: Path, name: x509.GeneralName) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` (its own CA) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "partner test CA")])
    now = datetime.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5))
                   .not_valid_after(now + timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                   .add_extension(x509.SubjectAlternativeName([name]), False)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "partner.pem", folder / "partner.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@contextlib.asynccontextmanager
async def _partner(cert: Path, key: Path) -> AsyncIterator[str]:
    """An HTTPS server on loopback that answers every request ``200 ok``; its base URL."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ssl.SSLError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"https://127.0.0.1:{port}/"
    finally:
        server.close()


async def _every_client_gets(url: str) -> list[tuple[int, str] | str]:
    """What the node's client and its first and last pushers get from ``url``: the status
    and body of the answer, or the text of the failure and its cause."""
    client, pushing = _clients()
    assert len(pushing) == DELIVERIES_AT_ONCE
    outcomes: list[tuple[int, str] | str] = []
    async with client:
        try:
            response = await client.get(url)
            outcomes.append((response.status_code, response.text))
        except httpx.HTTPError as exc:
            outcomes.append(str(exc))
    for pusher in (pushing[0], pushing[-1]):
        try:
            answer = await pusher.push(url, b"{}", {"Content-Type": "application/jose+json"})
            outcomes.append((answer.status, answer.body.decode()))
        except PushFailedError as exc:
            outcomes.append(f"{exc}: {exc.__cause__}")
    for pusher in pushing:
        await pusher.close()
    return outcomes


async def test_every_client_refuses_a_partner_no_trusted_ca_vouches_for(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    cert, key = _certificate(tmp_path, x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    async with _partner(cert, key) as url:
        outcomes = await _every_client_gets(url)
    assert len(outcomes) == 3
    assert all(isinstance(o, str) and "CERTIFICATE_VERIFY_FAILED" in o for o in outcomes), \
        outcomes


async def test_every_client_trusts_the_operators_ca_file_for_its_own_name_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = _certificate(tmp_path, x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    async with _partner(cert, key) as url:
        outcomes = await _every_client_gets(url)
    assert outcomes == [(200, "ok")] * 3
    # The same trusted CA file, a certificate for another name: refused (the name is checked).
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cert, key = _certificate(elsewhere, x509.DNSName("partner.example"))
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    async with _partner(cert, key) as url:
        outcomes = await _every_client_gets(url)
    assert len(outcomes) == 3
    assert all(isinstance(o, str) and "CERTIFICATE_VERIFY_FAILED" in o for o in outcomes), \
        outcomes
