"""The API's answers carry their meaning (ARCHITECTURE.md): every JSON route has a typed
answer (a ``response_model``), and no router raises a ``Problem`` or decides a status: the
errors carry their codes, and one handler answers them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel

from gateway.protocol.errors import GatewayError
from gateway.protocol.problems import PROBLEMS, problem_of, status_of
from gateway.web.app import LOCAL_API_ROUTERS

WEB = Path(__file__).resolve().parents[3] / "gateway" / "web"
#: Routes that answer bytes, not JSON (a PDF or HTML page, a zip file).
RAW = {"/api/cases/{case_id}/messages/{message_id}/print",
       "/api/cases/{case_id}/messages/{message_id}/proof"}


def _routes() -> list[APIRoute]:
    return [r for router in LOCAL_API_ROUTERS for r in router.routes
            if isinstance(r, APIRoute) and r.path not in RAW]


@pytest.mark.parametrize("route", _routes(), ids=lambda r: f"{sorted(r.methods)[0]} {r.path}")
def test_every_json_route_has_a_typed_answer(route: APIRoute) -> None:
    # FastAPI takes a return annotation for a model: a dict annotation is not a typed answer
    model = route.response_model
    assert isinstance(model, type), model
    assert issubclass(model, BaseModel), model


@pytest.mark.parametrize("path", sorted(WEB.rglob("*.py")), ids=lambda p: str(p.relative_to(WEB)))
def test_no_router_raises_a_problem(path: Path) -> None:
    raised = [node.lineno for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
              if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
              and isinstance(node.exc.func, ast.Name) and node.exc.func.id == "Problem"]
    assert raised == []


def test_a_refusal_answers_with_its_code_and_field() -> None:
    class RefusalError(GatewayError):
        code = "state-conflict"

    refusal = RefusalError("the case is {state}", state="closed")
    refusal.field = "to"
    problem = problem_of(refusal)
    assert (problem.status, problem.detail) == (409, "the case is closed")
    assert [e.path for e in problem.errors] == ["to"]


def test_an_error_without_a_code_is_a_fault() -> None:
    assert status_of(GatewayError("broken").code) == 500
    with pytest.raises(ValueError, match="no problem code"):
        problem_of(GatewayError("broken"))
    assert all(status_of(code) == status for code, (status, _) in PROBLEMS.items())
