"""What the code can write into the audit log, read from the source with ``ast``: every action
and every detail key of every ``audit.append`` (direct, passed to ``node.run``, or through a
function that hands its own ``action``/``detail`` parameters on to it, such as
``Node.audit``, ``audit_change`` or ``record_rejection``), of every call of the door
``audit.record`` (the same arguments without the connection) and of every entry tuple
``(actor, "action", subject, {detail})`` given to ``append_many``.

What cannot be told from the source (an action computed at run time) is reported as a
problem, so that a test fails until the code says its actions literally."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

ACTION_SHAPE = re.compile(r"^[a-z]+(?:[.-][a-z]+)*$")
#: ``audit.append(conn, clock, actor, action, subject, detail)``: where action and detail are.
_ACTION_AT, _DETAIL_AT = 3, 5


@dataclass(frozen=True)
class Wrapper:
    """A function that passes its own parameter on as the action (and its keyword arguments,
    or a fixed dict, as the detail)."""

    action_param: str
    action_index: int  # among the parameters after ``self``
    default: str | None
    detail_kwargs: bool
    fixed_keys: frozenset[str]


@dataclass
class Found:
    """What the source writes: actions, detail keys (with one place each), and problems."""

    actions: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    pairs: set[tuple[str, str]] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _function(node: ast.AST, parents: dict[ast.AST, ast.AST]
              ) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node
    return None


def _params(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.arg]:
    args = func.args
    return [*args.posonlyargs, *args.args, *args.kwonlyargs]


def _log_aliases(tree: ast.AST) -> set[str]:
    """The names ``gateway.audit.log`` is imported as in a module."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "gateway.audit":
            names.update(a.asname or a.name for a in node.names if a.name == "log")
    return names


def _is_append(node: ast.AST, aliases: set[str]) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr in ("append", "append_many", "record")
            and isinstance(node.value, ast.Name) and node.value.id in aliases)


def _called(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else (
        func.attr if isinstance(func, ast.Attribute) else None)


class _Module:
    def __init__(self, path: Path, root: Path) -> None:
        self.where = str(path.relative_to(root))
        self.tree = ast.parse(path.read_text(encoding="utf-8"))
        self.parents = _parents(self.tree)
        self.aliases = _log_aliases(self.tree)

    def at(self, node: ast.AST) -> str:
        return f"{self.where}:{getattr(node, 'lineno', 0)}"

    def actions(self, expr: ast.expr, found: Found) -> set[str] | None:
        """The literal actions an expression can be; None where it is a parameter."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return {expr.value}
        if isinstance(expr, ast.IfExp):
            body, other = self.actions(expr.body, found), self.actions(expr.orelse, found)
            return None if body is None or other is None else body | other
        if isinstance(expr, ast.Name):
            func = _function(expr, self.parents)
            if func is not None and expr.id in {a.arg for a in _params(func)}:
                return None
            values: set[str] = set()
            for node in ast.walk(func or self.tree):
                if isinstance(node, ast.Assign) and any(
                        isinstance(t, ast.Name) and t.id == expr.id for t in node.targets):
                    more = self.actions(node.value, found)
                    values |= more or set()
            if values:
                return values
        found.problems.append(f"{self.at(expr)}: an action the source does not spell out")
        return set()

    def keys(self, expr: ast.expr | None, found: Found) -> set[str] | None:
        """The literal keys of a detail dict; None where it is a parameter."""
        if expr is None or (isinstance(expr, ast.Constant) and expr.value is None):
            return set()
        if isinstance(expr, ast.Dict):
            keys: set[str] = set()
            for key, value in zip(expr.keys, expr.values, strict=True):
                if key is None:
                    keys |= self.keys(value, found) or set()
                elif isinstance(key, ast.Constant) and isinstance(key.value, str):
                    keys.add(key.value)
                else:
                    found.problems.append(f"{self.at(key)}: a detail key that is not literal")
            return keys
        if isinstance(expr, ast.IfExp):
            return (self.keys(expr.body, found) or set()) | (
                self.keys(expr.orelse, found) or set())
        if isinstance(expr, ast.Name):
            func = _function(expr, self.parents)
            if func is not None and expr.id in {a.arg for a in _params(func)} | (
                    {func.args.kwarg.arg} if func.args.kwarg else set()):
                return None
        found.problems.append(f"{self.at(expr)}: detail keys the source does not spell out")
        return set()


def _record(found: Found, where: str, actions: set[str], keys: set[str]) -> None:
    for action in actions:
        found.actions.setdefault(action, where)
        found.pairs.update((action, key) for key in keys)
    for key in keys:
        found.keys.setdefault(key, where)


def _wrapper_call(call: ast.Call, wrappers: dict[str, Wrapper]
                  ) -> tuple[Wrapper, int] | None:
    """A call of a wrapper (its arguments from 0), or of a runner that is handed one and
    supplies its first parameter, the connection (its arguments from ``k``)."""
    name = _called(call)
    if name in wrappers:
        return wrappers[name], 0
    for k, arg in enumerate(call.args):
        handed = arg.id if isinstance(arg, ast.Name) else (
            arg.attr if isinstance(arg, ast.Attribute) else None)
        if handed in wrappers:
            return wrappers[handed], k
    return None


def _sinks(module: _Module, wrappers: dict[str, Wrapper]
           ) -> list[tuple[ast.Call, ast.expr | None, ast.expr | None, set[str]]]:
    """Every call that writes an entry: (call, action expression, detail expression, detail
    keys known otherwise)."""
    out: list[tuple[ast.Call, ast.expr | None, ast.expr | None, set[str]]] = []
    for call in (n for n in ast.walk(module.tree) if isinstance(n, ast.Call)):
        positions = [-1] if _is_append(call.func, module.aliases) else [
            i for i, a in enumerate(call.args) if _is_append(a, module.aliases)]
        for k in positions:
            append = call.func if k < 0 else call.args[k]
            if isinstance(append, ast.Attribute) and append.attr == "append_many":
                continue  # its entries are tuples, found on their own
            shift = max(k, 0)  # a runner supplies the connection: the same places
            if k < 0 and isinstance(append, ast.Attribute) and append.attr == "record":
                shift = -1  # the door ``record(context, actor, action, ...)``: no connection
            args = call.args
            if any(isinstance(a, ast.Starred) and isinstance(a.value, ast.Call) for a in args):
                continue  # ``*arrival.received_entry()``: an entry tuple, found on its own
            action = args[shift + _ACTION_AT] if len(args) > shift + _ACTION_AT else next(
                (kw.value for kw in call.keywords if kw.arg == "action"), None)
            detail = args[shift + _DETAIL_AT] if len(args) > shift + _DETAIL_AT else next(
                (kw.value for kw in call.keywords if kw.arg == "detail"), None)
            out.append((call, action, detail, set()))
        called = _wrapper_call(call, wrappers)
        if called is None:
            continue
        wrapper, k = called
        at = k + wrapper.action_index
        expr = next((kw.value for kw in call.keywords if kw.arg == wrapper.action_param),
                    call.args[at] if len(call.args) > at else None)
        if expr is None and wrapper.default is not None:
            expr = ast.Constant(wrapper.default, lineno=call.lineno)
        keys = {kw.arg for kw in call.keywords if kw.arg and kw.arg != wrapper.action_param
                } if wrapper.detail_kwargs else set()
        out.append((call, expr, None, keys | wrapper.fixed_keys))
    return out


def _as_wrapper(func: ast.FunctionDef | ast.AsyncFunctionDef, param: str,
                detail_expr: ast.expr | None, keys: set[str] | None) -> Wrapper:
    """The function ``func`` seen as a wrapper whose parameter ``param`` is the action."""
    params = [a.arg for a in [*func.args.posonlyargs, *func.args.args]]
    if params and params[0] in ("self", "cls"):
        params = params[1:]
    defaults = dict(zip(reversed([a.arg for a in func.args.args]),
                        reversed(func.args.defaults), strict=False))
    default = defaults.get(param)
    kwarg = func.args.kwarg.arg if func.args.kwarg else None
    return Wrapper(param, params.index(param) if param in params else 10**6,
                   default.value if isinstance(default, ast.Constant)
                   and isinstance(default.value, str) else None,
                   isinstance(detail_expr, ast.Name) and detail_expr.id == kwarg,
                   frozenset(keys or ()))


def collect(root: Path, package: str = "gateway") -> Found:
    """Every action and detail key the package can write into the audit log."""
    modules = [_Module(p, root) for p in sorted((root / package).rglob("*.py"))]
    wrappers: dict[str, Wrapper] = {}
    while True:  # a wrapper of a wrapper (``_announce`` -> ``audit_change`` -> append)
        found = Found()
        grown = False
        for module in modules:
            for call, action_expr, detail_expr, more in _sinks(module, wrappers):
                if action_expr is None:
                    found.problems.append(f"{module.at(call)}: an entry without an action")
                    continue
                actions = module.actions(action_expr, found)
                keys = module.keys(detail_expr, found)
                if actions is None:  # the enclosing function's parameter: a wrapper
                    func = _function(call, module.parents)
                    assert func is not None
                    assert isinstance(action_expr, ast.Name)
                    wrapper = _as_wrapper(func, action_expr.id, detail_expr,
                                          (keys or set()) | more)
                    if wrappers.get(func.name) != wrapper:
                        wrappers[func.name] = wrapper
                        grown = True
                    actions = {wrapper.default} if wrapper.default else set()
                _record(found, module.at(call), actions, (keys or set()) | more)
            for node in ast.walk(module.tree):  # entry tuples for append_many
                if (isinstance(node, ast.Tuple) and len(node.elts) == 4
                        and isinstance(node.elts[1], ast.Constant)
                        and isinstance(node.elts[1].value, str)
                        and ACTION_SHAPE.match(node.elts[1].value)
                        and isinstance(node.elts[3], ast.Dict)):
                    _record(found, module.at(node), {node.elts[1].value},
                            module.keys(node.elts[3], found) or set())
        if not grown:
            return found
