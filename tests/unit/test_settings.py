"""Settings: NODE.md names and defaults, one clear line for a bad value."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("BX_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_follow_node_md(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BX_NODE_ID", "vn.c02")
    s = load_settings()
    assert s.data_path == Path("var/vn.c02")
    assert s.database_url == "sqlite+aiosqlite:///var/vn.c02/gateway.db"
    assert s.key_path == Path("var/vn.c02/keys/signing.pem")
    assert s.partners_path == Path("var/vn.c02/partners")
    assert (s.host, s.port) == ("127.0.0.1", 8600)
    assert s.public_url == "http://127.0.0.1:8600/bx/v1"
    assert s.secret_key_file == Path("var/vn.c02/keys/secret.key")


def test_data_dir_moves_every_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BX_NODE_ID", "kh.ahtjp")
    monkeypatch.setenv("BX_DATA_DIR", "/srv/bx")
    monkeypatch.setenv("BX_PORT", "9001")
    s = load_settings()
    assert s.key_path == Path("/srv/bx/keys/signing.pem")
    assert s.database_url == "sqlite+aiosqlite:////srv/bx/gateway.db"
    assert s.public_url == "http://127.0.0.1:9001/bx/v1"


def test_env_file_is_read_and_the_environment_wins(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BX_NODE_ID=la.atd\nBX_PORT=8700\n")
    assert (load_settings().node_id, load_settings().port) == ("la.atd", 8700)
    monkeypatch.setenv("BX_PORT", "8800")
    assert load_settings().port == 8800


@pytest.mark.parametrize(("env", "variable"), [
    ({}, "BX_NODE_ID"),
    ({"BX_NODE_ID": "VN.C02"}, "BX_NODE_ID"),
    ({"BX_NODE_ID": "vn.c02", "BX_PORT": "eighty"}, "BX_PORT"),
    ({"BX_NODE_ID": "vn.c02", "BX_PORT": "70000"}, "BX_PORT"),
    ({"BX_NODE_ID": "vn.c02", "BX_DATABASE_URL": "sqlite:///x.db"}, "BX_DATABASE_URL"),
    ({"BX_NODE_ID": "vn.c02", "BX_PUBLIC_URL": "gw.example"}, "BX_PUBLIC_URL"),
])
def test_a_bad_setting_is_named_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                            env: dict[str, str], variable: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert variable in message
    assert "\n" not in message


def test_trusted_proxies_are_addresses_or_networks_and_none_by_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BX_NODE_ID", "vn.c02")
    assert load_settings().proxies == []  # nobody's X-Forwarded-For is believed
    monkeypatch.setenv("BX_TRUSTED_PROXIES", " 10.0.0.5, 172.30.86.0/24 ,::1")
    assert load_settings().proxies == ["10.0.0.5", "172.30.86.0/24", "::1"]
    for wrong in ("*", "haproxy", "10.0.0.300"):  # everyone, a name, not an address
        monkeypatch.setenv("BX_TRUSTED_PROXIES", wrong)
        with pytest.raises(SettingsError, match=r"^setting BX_TRUSTED_PROXIES is wrong: ") as e:
            load_settings()
        assert repr(wrong) in str(e.value)
