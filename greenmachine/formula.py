"""A proxy's expression read as mathematics: the statistics it reads, its sympy form and its LaTeX.

An expression is what `gp.render.to_python` writes (and report.json and exported modules store):
calls of registered primitives, `const(v)`, statistic names and `mask`. Each primitive declares its
mathematical form (`PrimitiveDef.symbolic`); the sympy form leaves out the protections the code
applies (`safe_log(x)` is log|x|, not log(|x| + 1e-12)), so it is how a person reads the formula,
beside the exact expression that the code runs.
"""

from __future__ import annotations

import ast
import functools
import re
from typing import TYPE_CHECKING

from greenmachine.errors import GreenmachineError
from greenmachine.gp.primitives import PRIMITIVES

if TYPE_CHECKING:
    import sympy

LAYER_OPERATOR = re.compile(r"\bL_([A-Za-z]\w*)")
"""How a primitive's symbolic form names an operation over a network's layers: `L_sum(x)` is sum_l(x)."""
NOT_STATISTICS = frozenset({"const", "mask"})


def _calls(expression: str) -> ast.expr:
    """Return the parsed body of `expression`; raises GreenmachineError naming it if it is not one."""
    try:
        return ast.parse(expression, mode="eval").body
    except SyntaxError as exc:
        raise GreenmachineError(f"proxy expression {expression!r} is not a Python expression ({exc.msg})") from None


def statistics_of(expression: str) -> tuple[str, ...]:
    """Return the names of the statistics an expression reads, sorted (every name but primitives, const and mask)."""
    names = {node.id for node in ast.walk(_calls(expression)) if isinstance(node, ast.Name)}
    return tuple(sorted(n for n in names if n not in PRIMITIVES and n not in NOT_STATISTICS))


@functools.cache
def _layer_operator(name: str) -> type:
    """Return the sympy function `name_l(...)`: an opaque operation over a network's layers."""
    import sympy

    def latex(self, printer, exp: str | None = None) -> str:  # sympy passes `exp` when the call is raised to a power
        call = rf"\operatorname{{{name}}}_{{l}}\left({', '.join(printer._print(a) for a in self.args)}\right)"
        return call if exp is None else rf"{call}^{{{exp}}}"

    def text(self, printer) -> str:
        return f"{name}_l({', '.join(printer._print(a) for a in self.args)})"

    return type(f"{name}_l", (sympy.Function,), {"_latex": latex, "_sympystr": text})


@functools.cache
def _form(primitive: str) -> tuple[object, tuple[object, ...]]:
    """Return the sympy form of a registered primitive and the dummy symbols of its arguments."""
    import sympy

    definition = PRIMITIVES[primitive]
    x, y = sympy.Dummy("x"), sympy.Dummy("y")
    if definition.symbolic is None:  # undeclared: shown as a call of a function named after it
        return sympy.Function(primitive)(x) if _arity(primitive) == 1 else sympy.Function(primitive)(x, y), (x, y)
    local = {"x": x, "y": y, "l": sympy.Symbol("l"), "L": sympy.Symbol("L")}
    local.update({f"L_{op}": _layer_operator(op) for op in LAYER_OPERATOR.findall(definition.symbolic)})
    return sympy.parse_expr(definition.symbolic, local_dict=local), (x, y)


def _arity(primitive: str) -> int:
    definition = PRIMITIVES[primitive]
    return 1 if definition.needs_mask else len(definition.signatures[0][0])


def to_sympy(expression: str, simplify: bool = True) -> sympy.Expr:
    """Return the sympy form of an expression (simplified by `sympy.simplify` unless `simplify` is False).

    Statistics become real symbols named as they are; operations over layers print as `sum_l(...)`.
    Raises GreenmachineError for a call of an unknown function or a malformed expression.
    """
    import sympy

    def convert(node: ast.expr) -> sympy.Expr:
        if isinstance(node, ast.Name):
            return sympy.Symbol(node.id, real=True)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name = node.func.id
            if name == "const":
                return sympy.Float(ast.literal_eval(node.args[0]), 4)
            if name not in PRIMITIVES:
                raise GreenmachineError(f"proxy expression {expression!r} calls {name!r}, which is not a primitive; "
                                        f"valid: const, {', '.join(PRIMITIVES.names())}")
            arguments = [convert(a) for a in node.args if not (isinstance(a, ast.Name) and a.id == "mask")]
            form, dummies = _form(name)
            return form.xreplace(dict(zip(dummies, arguments)))
        if isinstance(node, (ast.Constant, ast.UnaryOp)):
            return sympy.Float(ast.literal_eval(node), 4)
        raise GreenmachineError(f"proxy expression {expression!r} holds {ast.unparse(node)!r}, which is neither a "
                                "primitive call, const(...) nor a statistic")

    expr = convert(_calls(expression))
    return sympy.simplify(expr) if simplify else expr


def _symbol_names(expr: sympy.Expr) -> dict:
    """Return LaTeX names for the statistics of `expr`: upright, underscores kept (`\\mathrm{snip\\_layer}`)."""
    return {s: r"\mathrm{" + s.name.replace("_", r"\_") + "}" for s in expr.free_symbols if s.name not in ("l", "L")}


def to_latex(expression: str, simplify: bool = True) -> str:
    """Return the LaTeX of an expression's sympy form (see to_sympy), without surrounding dollars."""
    import sympy

    expr = to_sympy(expression, simplify)
    return sympy.latex(expr, symbol_names=_symbol_names(expr))


def readable(expression: str, simplify: bool = True) -> tuple[str, str]:
    """Return (sympy text, LaTeX) of an expression, converting it once."""
    import sympy

    expr = to_sympy(expression, simplify)
    return sympy.sstr(expr), sympy.latex(expr, symbol_names=_symbol_names(expr))
