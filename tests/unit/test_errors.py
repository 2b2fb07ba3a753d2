"""One family of errors: every exception the gateway defines derives from GatewayError (but
the settings', which import nothing of ours, the standalone proof checker's, which imports
nothing of ours either, and control flow: the console's, a round of attaching), and the tree
in its docstring names them all."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import gateway
from gateway.protocol import errors
from gateway.protocol.errors import GatewayError

OUTSIDE = {"SettingsError", "Redirect", "Refused", "CheckError", "_HookFailedError"}


def defined_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module in pkgutil.walk_packages(gateway.__path__, "gateway."):
        if ".migrations" in module.name or module.name == "gateway.__main__":
            continue
        loaded = importlib.import_module(module.name)
        found.update({name: value for name, value in vars(loaded).items()
                      if inspect.isclass(value) and issubclass(value, BaseException)
                      and value.__module__ == module.name})
    return found


def test_every_error_of_the_gateway_is_a_gateway_error() -> None:
    found = defined_exceptions()
    assert len(found) > 10
    strays = {n for n, c in found.items() if not issubclass(c, GatewayError)} - OUTSIDE
    assert strays == set()


def test_the_tree_names_every_error() -> None:
    tree = errors.__doc__ or ""
    for name in set(defined_exceptions()) - OUTSIDE - {"GatewayError", "DemoError"}:
        assert name in tree, name


def test_an_error_reads_in_english_and_speaks_the_readers_language() -> None:
    inner = GatewayError(errors.N_("no user {username}"), username="tam")
    error = GatewayError(errors.N_("{path}: {error}"), path="/x", error=inner)
    assert str(error) == "/x: no user tam"
    book = {"{path}: {error}": "{path} — {error}", "no user {username}": "không có {username}"}
    assert error.speak(lambda m: book.get(m, m)) == "/x — không có tam"
    # A translation that lost or renamed a placeholder falls back to English, never raises.
    assert error.speak(lambda m: "{chemin}") == "/x: no user tam"
    plain = GatewayError("a plain {brace} message")
    assert str(plain) == "a plain {brace} message"
    assert plain.speak(lambda m: m) == "a plain {brace} message"
