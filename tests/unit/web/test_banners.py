"""Every confirmation the console shows after a form (``?done=<code>``) is in words in every
language: the codes are found in the console's source, each must have its words in vi, en,
km and lo, and the page's banner shows the words, never the code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from gateway.documents.catalog import LOCALES, catalogs
from gateway.settings import REPOSITORY
from gateway.web.console.pages import _env

WEB = REPOSITORY / "gateway" / "web"
WORDS = catalogs(REPOSITORY / "translations")
_LITERAL = re.compile(r"done=([a-z][a-z-]*)")


def _strings(node: ast.AST) -> set[str]:
    """The codes an expression may give: a string, either branch of ``a if c else b``."""
    if isinstance(node, ast.IfExp):
        return _strings(node.body) | _strings(node.orelse)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value} if re.fullmatch(r"[a-z][a-z-]*", node.value) else set()
    return set()


def _assigned(tree: ast.AST, name: str) -> set[str]:
    """The codes a variable may hold: a mapping's values and its default (``{...}.get(k,
    "x")``), or the strings assigned to it."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets)):
            continue
        value = node.value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and \
                isinstance(value.func.value, ast.Dict):
            found |= {v.value for v in value.func.value.values if isinstance(v, ast.Constant)}
            found |= _strings(value.args[-1]) if len(value.args) > 1 else set()
        else:
            found |= _strings(value)
    return found


def codes_in(path: Path) -> set[str]:
    """The ``done=`` codes a module of the console redirects with."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    returned = {n.value.value for n in ast.walk(tree) if isinstance(n, ast.Return)
                and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)}
    codes: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            codes |= set(_LITERAL.findall(node.value))
        if not isinstance(node, ast.JoinedStr):
            continue
        for before, part in zip(node.values, node.values[1:], strict=False):
            if not (isinstance(before, ast.Constant) and str(before.value).endswith("done=")
                    and isinstance(part, ast.FormattedValue)):
                continue
            if isinstance(part.value, ast.Name):  # a variable: what it is given, or returned
                codes |= _assigned(tree, part.value.id) or returned
            else:
                codes |= _strings(part.value)
    return codes


def all_codes() -> set[str]:
    return {code for path in WEB.rglob("*.py") for code in codes_in(path)}


def test_the_scan_finds_the_console_confirmations() -> None:
    codes = all_codes()
    # literal, conditional, mapped and returned codes are all found
    assert {"case-opened", "released", "returned", "report-submitted", "report-released",
            "report-returned", "draft-saved", "sent", "submitted", "moved", "task-done",
            "tip-recorded", "key-refused"} <= codes, codes


@pytest.mark.parametrize("lang", LOCALES)
def test_every_confirmation_is_in_words_in_every_language(lang: str) -> None:
    words = WORDS.get(lang)
    raw = sorted(code for code in all_codes()
                 if words.pgettext("code", f"done:{code}") in ("", f"done:{code}"))
    assert raw == [], f"{lang}: shown as a raw code: {raw}"


@pytest.mark.parametrize("lang", LOCALES)
def test_the_banner_shows_the_words_and_never_a_code(lang: str) -> None:
    book = WORDS

    def render(flash: str) -> str:
        return _env.get_template("base.html").render(
            flash=flash, user=None, lang=lang, locales=LOCALES, unread=(0, 0),
            _=lambda message: book.text(lang, message),
            code=lambda value: book.code(lang, value))

    shown = render("report-submitted")
    words = book.code(lang, "done:report-submitted")
    assert f'id="flash">{words}</p>' in shown
    assert "done:" not in shown
    assert 'id="flash"' not in render("no-such-thing")  # a made-up code: no banner at all
