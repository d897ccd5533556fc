"""Which parsed answers Math-Verify can call equal: a cheap necessary condition, so that grading and vote classes
run Math-Verify only on pairs that may be equivalent.

Math-Verify 0.9 (grader.py, `sympy_expr_eq`) calls two sympy expressions equal only through checks that keep
their value: structural equality, both rounded to 6 decimals, `(a - b).evalf() == 0`, `simplify(a - b) == 0`,
"18%" against the integer 18, sets, tuples and intervals element by element, an equation's right-hand side or
solution set, two equations by `lhs - rhs` or by their solutions; a lone symbol only by its name. Each implies
equal values with every letter set to one real number (its symbols are real), or equal names, so `may_equal` says
False only when the values differ by more than a generous tolerance and no name matches. What has no such value
(matrices, undefined functions, unbounded intervals) may equal anything and is always compared.

Example (parse: Math-Verify's, as benchmarks/grading.py calls it):
    may_equal(Values.of(parse("1/2")), Values.of(parse("0.5")))   # True
    may_equal(Values.of(parse("1/2")), Values.of(parse("2")))     # False: Math-Verify need not be asked
"""

from __future__ import annotations

import bisect
import cmath
import functools
import zlib
from collections import defaultdict
from dataclasses import dataclass

ANY, NUMBER, SYMBOL, TEXT, SET, INTERVAL = "any", "number", "symbol", "text", "set", "interval"
EQUATION, RELATION = "equation", "relation"  # an inequality, or equations joined by "and"
_REAL = {"commutative", "complex", "extended_real", "finite", "hermitian", "imaginary", "infinite", "real"}


@dataclass(frozen=True, eq=False)
class Shape:
    """One parsed item as Math-Verify compares it."""

    kind: str
    values: tuple[complex, ...] = ()
    text: str = ""  # a string item; a symbol's name
    names: tuple[str, ...] = ()  # lower-case names a symbol may match it by: str(item), its letters run together
    items: tuple[Shape, ...] = ()  # a set's elements; an interval's ends; an equation's right-hand side
    open_ends: tuple[bool, bool] = (False, False)  # an interval's
    rel: object = None  # the sympy relation, worked on (solved, as_set) only when needed
    assignment: bool = False  # "x = 5", "ab = 5": a relation whose left side is letters only
    sides: tuple[Shape, ...] = ()  # an equation's lhs - rhs and rhs - lhs


def close(u: complex, v: complex) -> bool:
    # Far wider than Math-Verify's 6-decimal rounding and than evalf's error; near misses are only compared.
    return abs(u - v) <= 1e-5 + 1e-6 * max(abs(u), abs(v))


def _may(x: Shape, y: Shape) -> bool:
    """Whether Math-Verify's sympy_expr_eq could call x and y equal, in either order."""
    if ANY in (x.kind, y.kind):
        return True
    if TEXT in (x.kind, y.kind):  # strings compare only with strings, as text
        return x.kind == y.kind and bool(x.text) and x.text == y.text
    relations = (EQUATION, RELATION)
    if x.kind in relations and y.kind in relations:
        return _equations_may(x, y)
    for r, other in ((x, y), (y, x)):
        if r.kind in relations:
            return _relation_may(r, other)
    if INTERVAL in (x.kind, y.kind):
        return _intervals_may(x, y)
    if SET in (x.kind, y.kind):  # equal sets: each element equals one on the other side
        a, b = _items(x), _items(y)
        return all(any(_may(i, j) for j in b) for i in a) and all(any(_may(i, j) for i in a) for j in b)
    if SYMBOL in (x.kind, y.kind):  # grader.py sympy_compare_symbols: names, case aside
        s, other = (x, y) if x.kind == SYMBOL else (y, x)
        return s.text.lower() in (other.names if other.kind != SYMBOL else (other.text.lower(),))
    return any(close(u, v) for u in x.values for v in y.values)


def _items(shape: Shape) -> tuple[Shape, ...]:
    return shape.items if shape.kind == SET else (shape,)  # a non-set meets a set as a singleton


def _relation_may(r: Shape, other: Shape) -> bool:
    # An equation meets a non-equation by its right-hand side, a symbol by str(); one meets a set as its solution
    # set (as_set), or as a singleton when it has none.
    if other.kind == SYMBOL and other.text.lower() in r.names:
        return True
    if r.kind == EQUATION and _may(r.items[0], other):
        return True
    if other.kind not in (SET, INTERVAL):
        return False
    if r.kind == RELATION or r.rel is None:
        return True  # inequalities against intervals: rare, left to Math-Verify
    if r.assignment:
        return False  # "x = 5" meets a set by its right-hand side only
    solution_set = _as_set(r.rel)
    if solution_set is None:
        return True
    return _may(solution_set if solution_set is not _NO_SET else Shape(SET, items=(r,)), other)


def _intervals_may(x: Shape, y: Shape) -> bool:
    # grader.py sympy_compare_sets: two intervals by their ends; an open one also as the pair of its ends. A proper
    # interval never equals a finite set otherwise (their symmetric difference is not empty).
    a, b = (x, y) if x.kind == INTERVAL else (y, x)
    if b.kind == INTERVAL:
        return a.open_ends == b.open_ends and _may(a.items[0], b.items[0]) and _may(a.items[1], b.items[1])
    if b.kind != SET or len(b.items) != 2 or a.open_ends != (True, True):
        return False
    return _may(Shape(SET, items=a.items), b)


def _equations_may(x: Shape, y: Shape) -> bool:
    # grader.py sympy_compare_relational: lhs - rhs equal, or equal to rhs - lhs, or the same solutions.
    if x.kind == RELATION or y.kind == RELATION or x.rel is None or y.rel is None:
        return True  # inequalities and systems: rare, left to Math-Verify
    if any(_may(x.sides[0], side) for side in y.sides):
        return True
    # Solving can take seconds: the equation with fewer letters first, and the other only if still needed.
    x, y = sorted((x, y), key=lambda s: len(s.rel.free_symbols))
    sx = _solutions(x.rel)
    if sx is None:
        return True
    if sx and not all(isinstance(s, dict) and s.keys() <= y.rel.free_symbols for s in sx):
        return False  # a list of values ("x = 5" -> [5]): `.items()` raises; or letters y cannot be solved for
    sy = _solutions(y.rel)
    if sy is None:
        return True
    if len(sx) != len(sy):
        return False  # zip(strict=True) raises, so not equal
    if not sx:
        return True  # two equations without solutions compare equal
    if not all(isinstance(s, dict) for s in sy):
        return False
    return all(any(_same_solution(a, b) for b in sy) for a in sx) and all(
        any(_same_solution(a, b) for a in sx) for b in sy)


def _same_solution(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(_may(_shape(a[k]), _shape(b[k])) for k in a)


@functools.lru_cache(maxsize=4096)
def _solutions(eq) -> list | None:
    """solve(eq, eq.free_symbols), as sympy_solve_and_compare calls it; None if that fails or runs out of time (then
    the equation is always compared, without trying again)."""
    from math_verify.errors import TimeoutException
    from sympy import solve

    try:
        return list(solve(eq, eq.free_symbols))
    except (Exception, TimeoutException):
        return None


_NO_SET = Shape(ANY)  # as_set raised: Math-Verify keeps the relation


@functools.lru_cache(maxsize=4096)
def _as_set(rel) -> Shape | None:
    """The shape of Math-Verify's `unwrap_fcs(rel).as_set()`; _NO_SET when that raises, None when out of time."""
    from math_verify.errors import TimeoutException
    from math_verify.grader import unwrap_fcs

    try:
        return _shape(unwrap_fcs(rel).as_set())
    except TimeoutException:
        return None
    except Exception:
        return _NO_SET


@dataclass(frozen=True)
class Values:
    """A parsed answer (Math-Verify's list of sympy objects and strings) as shapes, with what indexes them."""

    shapes: tuple[Shape, ...]
    numbers: tuple[complex, ...]  # every value anywhere in it: a matching answer shares one
    texts: frozenset[str]  # strings and names, lower case: a matching answer shares one
    kinds: frozenset[str]  # RELATION and SET, which match each other without a shared value or name
    open: bool  # may equal anything: compare with every answer

    @classmethod
    def anything(cls) -> Values:
        """What could not be worked out (a timeout): compared with every answer."""
        return cls((Shape(ANY),), (), frozenset(), frozenset(), True)

    @classmethod
    def of(cls, parsed) -> Values:
        shapes = tuple(_shape(p) for p in parsed)
        numbers, texts, kinds, open_ = [], set(), set(), False
        stack = list(shapes)
        while stack:
            s = stack.pop()
            numbers += s.values
            texts |= {s.text.lower()} | set(s.names) if s.text else set(s.names)
            kinds |= {RELATION} if s.kind in (EQUATION, RELATION) else {SET} if s.kind in (SET, INTERVAL) else set()
            open_ |= s.kind == ANY
            stack += s.items
        return cls(shapes, tuple(numbers), frozenset(texts), frozenset(kinds), open_)


def may_equal(a: Values, b: Values) -> bool:
    """False only when Math-Verify's verify(a, b) and verify(b, a) are both surely False (any item against any)."""
    return any(_may(x, y) for x in a.shapes for y in b.shapes)


def _shape(item) -> Shape:
    from math_verify.grader import is_assignment_relation, is_equation, is_relation, take_last_relation
    from sympy import E, Eq, Expr, FiniteSet, Interval, MatrixExpr, Mul, Symbol, Tuple

    if isinstance(item, str):
        return Shape(TEXT, text=item.strip())
    if isinstance(item, Symbol):
        return Shape(SYMBOL, text=item.name)
    if is_relation(item):
        names = (str(item).lower(),)
        if not is_equation(item):
            return Shape(RELATION, names=names)
        rhs = _shape(take_last_relation(item).rhs)
        try:
            sides = (_shape(item.lhs - item.rhs), _shape(item.rhs - item.lhs)) if isinstance(item, Eq) else ()
        except Exception:
            sides = ()
        return Shape(EQUATION, names=names, items=(rhs,), rel=item if sides else None, sides=sides,
                     assignment=is_assignment_relation(item))
    if isinstance(item, (FiniteSet, Tuple)) and item.args:  # an empty one shares no value with its equals
        return Shape(SET, items=tuple(_shape(a) for a in item.args))
    if isinstance(item, Interval):
        ends = _shape(item.start), _shape(item.end)
        if all(e.kind == NUMBER and len(e.values) == 1 and not e.values[0].imag for e in ends) and (
                ends[1].values[0].real - ends[0].values[0].real > 1e-3 * (1 + abs(ends[0].values[0]))):
            return Shape(INTERVAL, items=ends, open_ends=(bool(item.left_open), bool(item.right_open)))
        return Shape(ANY)  # unbounded, symbolic or nearly empty: left to Math-Verify
    if isinstance(item, Expr) and not isinstance(item, MatrixExpr):
        values = _values(item)
        if not values:
            return Shape(ANY)
        names = [str(item).lower()]
        if isinstance(item, Mul) and all(a == E or isinstance(a, Symbol) for a in item.args):
            names.append("".join(a.name if isinstance(a, Symbol) else "e" for a in item.args).lower())
        return Shape(NUMBER, values=values, names=tuple(names))
    return Shape(ANY)


def _values(expr) -> tuple[complex, ...]:
    """Its value with each letter set to a fixed real number (plus 18 for "18%"); () when there is none."""
    from sympy import Mul, Number, Pow, Rational, UnevaluatedExpr

    if any(p.exp.is_Number and abs(p.exp) > 10**4 for p in expr.atoms(Pow)):
        return ()  # 10^{10^{10}}: evalf would not return
    symbols = expr.free_symbols
    if any(set(s.assumptions0) - _REAL or s.assumptions0.get("real") is False for s in symbols):
        return ()  # an integer or positive letter: simplify may use identities that fail at our point
    point = {s: Rational(1000 + zlib.crc32(s.name.encode()) % 9973, 1000) for s in symbols}
    extra = ()
    if isinstance(expr, Mul) and len(expr.args) == 2 and expr.args[1] == UnevaluatedExpr(Rational(1, 100)):
        extra = (expr.args[0],) if isinstance(expr.args[0], Number) else ()  # "18%" also equals 18
    hidden = expr.atoms(UnevaluatedExpr)
    if hidden:
        expr = expr.xreplace({u: u.args[0] for u in hidden})
    out = []
    for e in (expr, *extra):
        try:
            v = complex(e.evalf(30, subs=point))
        except (TypeError, ValueError, OverflowError, ArithmeticError):
            return ()
        if not cmath.isfinite(v):
            return ()
        out.append(v)
    return tuple(out)


class Index:
    """Answers by value, so that a new answer is checked only against those that may equal it.

    candidates(v) is a superset of the added answers w with may_equal(v, w), in the order they were added.
    """

    def __init__(self):
        # sorted by real part; (real, answer, position) is unique, so the complex value itself is never compared
        self._reals: list[tuple[float, int, int, complex]] = []
        self._texts: dict[str, list[int]] = defaultdict(list)
        self._kinds: dict[str, list[int]] = defaultdict(list)
        self._open: list[int] = []
        self._n = 0

    def add(self, values: Values) -> int:
        i, self._n = self._n, self._n + 1
        for k, v in enumerate(values.numbers):   # "1 \\pm \\sqrt{-3}": two values with one real part
            bisect.insort(self._reals, (v.real, i, k, v))
        for t in values.texts:
            self._texts[t].append(i)
        for k in values.kinds:
            self._kinds[k].append(i)
        if values.open:
            self._open.append(i)
        return i

    def candidates(self, values: Values) -> list[int]:
        if values.open:
            return list(range(self._n))
        found = set(self._open)
        for v in values.numbers:
            width = 1.01 * (1e-5 + 1e-6 * abs(v))  # covers close(): |u - v| <= tol(max(|u|, |v|))
            lo = bisect.bisect_left(self._reals, (v.real - width,))
            hi = bisect.bisect_right(self._reals, (v.real + width, float("inf")))
            found.update(i for _, i, _, u in self._reals[lo:hi] if close(u, v))
        for t in values.texts:
            found.update(self._texts.get(t, ()))
        if RELATION in values.kinds:  # relations match relations and sets without a shared value or name
            found.update(self._kinds[RELATION] + self._kinds[SET])
        if SET in values.kinds:
            found.update(self._kinds[RELATION])
        return sorted(found)
