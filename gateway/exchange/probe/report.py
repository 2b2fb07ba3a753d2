"""A probe's report as files an implementer acts on: ``probe.xml`` (JUnit XML, one testcase
per check, for a CI), ``probe.json`` (everything, for tools) and ``probe.html`` (a page in
the operator's language with English beside it, the common language of the exchange). Each
check with its section, level, outcome, why, and what was sent and came back (secrets cut).
Pure but for writing the files."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from gettext import NullTranslations
from pathlib import Path
from typing import Final

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from gateway.exchange.probe.results import ACCEPT_NAME, ProbeRun, Result
from gateway.localtime import LOCAL_TIME
from gateway.protocol.errors import N_
from gateway.trust.files import write_atomically

TEMPLATES: Final = Path(__file__).parent / "templates"
FILES: Final = ("probe.xml", "probe.json", "probe.html")
#: The outcomes in words.
STATUS_WORDS: Final = {"PASS": N_("passed"), "FAIL": N_("failed"), "WARN": N_("warning"),
                       "SKIP": N_("skipped")}
#: Characters XML 1.0 cannot carry (and C1 controls): a partner's answer may hold any.
_NOT_XML: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
#: What a terminal line must not carry: the above, and line breaks (a partner's words
#: could otherwise drive the operator's terminal, or draw a line of their own).
_NOT_ONE_LINE: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _escaped(found: re.Match[str]) -> str:
    return f"\\x{ord(found.group()):02x}" if ord(found.group()) < 0x100 else \
        f"\\u{ord(found.group()):04x}"


def _xml_text(text: str) -> str:
    """A text as XML can carry it: a partner's control characters written out (``\\x1b``)."""
    return _NOT_XML.sub(_escaped, text)


def check_name(result: Result, translate: Callable[[str], str]) -> str:
    """What a check asks, in a language (``translate``: a catalog's gettext)."""
    spoken = translate(result.check.name)
    doc_type = result.doc_type
    return spoken.format(type=doc_type) if result.check.name == ACCEPT_NAME and doc_type \
        else spoken


def _detail(result: Result, translate: Callable[[str], str]) -> str:
    return result.detail.error.speak(translate)


def as_json(run: ProbeRun) -> bytes:
    """The whole run as JSON (English)."""
    return json.dumps({
        "probe": {"from": run.me, "partner": run.partner, "endpoint": run.base,
                  "read_only": run.read_only, "started": run.started.isoformat(),
                  "finished": run.finished.isoformat() if run.finished else None,
                  "passed": run.passed},
        "summary": run.counts(),
        "results": [{"id": r.check.id, "section": r.check.section,
                     "name": check_name(r, str), "level": r.check.level, "status": r.status,
                     "detail": str(r.detail), "seconds": r.seconds,
                     "exchanges": [{"sent": s, "received": g}
                                   for s, g in zip(r.sent, r.received, strict=True)]}
                    for r in run.results],
    }, ensure_ascii=False, indent=2).encode() + b"\n"


def _evidence(result: Result) -> str:
    return "\n\n".join(f"--> {sent}\n<-- {received}"
                       for sent, received in zip(result.sent, result.received, strict=True))


def junit_xml(run: ProbeRun) -> bytes:
    """JUnit XML: one testsuite, one testcase per check (``classname`` its section); a MUST
    not met is a ``<failure>``, a check not made ``<skipped>``, a SHOULD not met passes with
    its warning in ``<system-err>``."""
    counts = run.counts()
    seconds = sum(r.seconds for r in run.results)
    suites = ET.Element("testsuites", name="BX/1 probe", tests=str(len(run.results)),
                        failures=str(counts["FAIL"]), errors="0",
                        skipped=str(counts["SKIP"]), time=f"{seconds:.3f}")
    suite = ET.SubElement(suites, "testsuite",
                          name=_xml_text(f"BX/1 probe of {run.partner or run.base}"),
                          tests=str(len(run.results)), failures=str(counts["FAIL"]),
                          errors="0", skipped=str(counts["SKIP"]), time=f"{seconds:.3f}",
                          timestamp=run.started.isoformat(), hostname=_xml_text(run.me))
    properties = ET.SubElement(suite, "properties")
    for name, value in (("endpoint", run.base), ("partner", run.partner or ""),
                        ("from", run.me), ("read_only", str(run.read_only).lower())):
        ET.SubElement(properties, "property", name=name, value=_xml_text(value))
    for result in run.results:
        case = ET.SubElement(suite, "testcase", classname=f"PROTOCOL.md §{result.check.section}",
                             name=_xml_text(f"{result.check.id}: {check_name(result, str)}"),
                             time=f"{result.seconds:.3f}")
        if result.status == "FAIL":
            failure = ET.SubElement(case, "failure", message=_xml_text(str(result.detail)),
                                    type=result.check.level)
            failure.text = _xml_text(_evidence(result))
        elif result.status == "SKIP":
            ET.SubElement(case, "skipped", message=_xml_text(str(result.detail)))
        elif result.status == "WARN":
            ET.SubElement(case, "system-err").text = _xml_text(
                f"WARN ({result.check.level}): {result.detail}")
        if result.status != "FAIL" and result.sent:
            ET.SubElement(case, "system-out").text = _xml_text(_evidence(result))
    ET.indent(suites)
    written: bytes = ET.tostring(suites, encoding="utf-8", xml_declaration=True)
    return written + b"\n"


def _pair(own: str, common: str) -> Markup:
    """A text in the operator's language, with English beneath it when that differs."""
    if own == common:
        return Markup("{}").format(own)
    return Markup('{}<span class="common" lang="en">{}</span>').format(own, common)


def html(run: ProbeRun, words: NullTranslations, english: NullTranslations,
         locale: str) -> str:
    """The page: every label in the operator's language with English beneath it."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(),
                      trim_blocks=True, lstrip_blocks=True)
    own, common = words.gettext, english.gettext
    started = run.started.astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M:%S") + " (UTC+7)"
    summary = run.summary().error
    return env.get_template("probe.html").render(
        run=run, locale=locale, counts=run.counts(), started=started,
        both=lambda message: _pair(own(message), common(message)),
        name=lambda r: _pair(check_name(r, own), check_name(r, common)),
        detail=lambda r: _pair(_detail(r, own), _detail(r, common)),
        status_words=STATUS_WORDS, summary=_pair(summary.speak(own), summary.speak(common)))


def write_reports(run: ProbeRun, directory: Path, words: NullTranslations,
                  english: NullTranslations, locale: str) -> list[Path]:
    """Write :data:`FILES` into ``directory`` (made if missing); their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    made: dict[str, bytes] = {"probe.xml": junit_xml(run), "probe.json": as_json(run),
                              "probe.html": html(run, words, english, locale).encode()}
    paths = []
    for name in FILES:
        write_atomically(directory / name, made[name], 0o644)
        paths.append(directory / name)
    return paths


def summary_lines(run: ProbeRun, translate: Callable[[str], str]) -> list[str]:
    """One line per check for a terminal: outcome, id, what it asks and why (a partner's
    control characters written out, never sent to the terminal)."""
    lines = []
    for result in run.results:
        lines.append(f"{result.status:4}  {result.check.id:28}  "
                     f"{check_name(result, translate)}")
        if result.status in ("FAIL", "WARN"):
            lines.append(f"      {_detail(result, translate)}")
    return [_NOT_ONE_LINE.sub(_escaped, line) for line in lines]
