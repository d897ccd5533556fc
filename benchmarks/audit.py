"""Gold audit: each problem's gold answer, written as a model would write it, must grade correct through the
benchmark's own grader, and near misses of it must grade wrong. It finds golds the grader cannot read, answer types
graded by the wrong rule, and graders too lenient to tell a near miss from the answer.

Written as a model would ("right"): "\\boxed{gold}", "The answer is gold.", the gold rewritten ("c^2" for "c^{2}",
\\dfrac for \\frac) and, where the problem has them, the gold with its unit in the box, its list items in separate
boxes and in reverse order, and its option letter.
Near misses ("wrong"): off by one (the first integer in the gold plus one; a "number" gold's last significant digit
plus one), a wrong sign (the gold negated), a dropped term (the last top-level term of a sum, or the last item of a
list), a wrong unit (another unit in the box, where the problem has a unit), another option (multiple choice).
A near miss that does not apply (the sign of 0, a term of a one-term gold) is not made.

KNOWN lists the checks that fail for a reason other than a grading bug, with that reason; `audit` reports them
apart from the failures nobody has explained.

Example:
    result = audit(benchmarks.load("aime25", data_dir="../shared/data"))
    result.failures            # [] : every gold grades correct, every near miss wrong
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from benchmarks.answer_types import balanced, split_items, tolerance
from benchmarks.base import Problem

RIGHT = ("boxed", "in words", "rewritten", "with its unit", "boxes in a row", "reversed", "letter")
WRONG = ("off by one", "wrong sign", "dropped term", "wrong unit", "another option")

KNOWN: dict[tuple[str, str, str], str] = {
    # (problem id, check, response) -> why it fails and is not a grading bug
}


@dataclass(frozen=True)
class Check:
    problem_id: str
    kind: str
    """One of RIGHT (must grade correct) or WRONG (must grade wrong)."""
    gold: str
    response: str
    correct: bool
    """How the benchmark graded the response."""

    @property
    def passed(self) -> bool:
        return self.correct == (self.kind in RIGHT)


@dataclass
class AuditResult:
    benchmark: str
    problems: int
    checks: dict[str, list[int]] = field(default_factory=dict)
    """Check kind -> [made, passed]."""
    failures: list[Check] = field(default_factory=list)
    """Failed checks that KNOWN does not explain: grading bugs until shown otherwise."""
    known: list[tuple[Check, str]] = field(default_factory=list)
    """Failed checks KNOWN explains, with the reason."""
    excluded: dict[str, str] = field(default_factory=dict)
    converted: dict[str, str] = field(default_factory=dict)

    @property
    def consistent(self) -> int:
        """Problems all of whose checks pass."""
        bad = {c.problem_id for c in self.failures} | {c.problem_id for c, _ in self.known}
        return self.problems - len(bad)


def audit(bench) -> AuditResult:
    """Grade every problem's gold renderings and near misses with `bench.grade`."""
    problems = bench.problems()
    result = AuditResult(bench.name, len(problems), excluded=dict(getattr(bench, "excluded", {}) or {}),
                         converted=dict(getattr(bench, "converted", {}) or {}))
    for p in problems:
        for kind, response in [*renderings(p), *near_misses(p)]:
            check = Check(p.id, kind, p.gold, response, bool(bench.grade(p, response).correct))
            made = result.checks.setdefault(kind, [0, 0])
            made[0] += 1
            made[1] += check.passed
            if not check.passed:
                why = KNOWN.get((p.id, kind, response))
                result.known.append((check, why)) if why else result.failures.append(check)
    return result


def renderings(p: Problem) -> list[tuple[str, str]]:
    """The gold written as a model would: each must grade correct."""
    if p.choices:
        return [("letter", f"\\boxed{{{p.gold}}}"), ("in words", f"The answer is ({p.gold}).")]
    gold = p.gold
    words = gold if re.fullmatch(r"[-+]?[\d.]+", gold) else f"${gold}$"
    out = [("boxed", f"So the final answer is $\\boxed{{{gold}}}$."), ("in words", f"The answer is {words}.")]
    if (other := rewritten(gold)) != gold:
        out.append(("rewritten", f"\\boxed{{{other}}}"))
    if p.unit:
        out.append(("with its unit", f"\\boxed{{{gold} {_written(p.unit)}}}"))
    if p.answer_type == "list" and len(items := split_items(gold)) > 1:
        out.append(("boxes in a row", ", ".join(f"\\boxed{{{item}}}" for item in items)))
        out.append(("reversed", f"\\boxed{{{', '.join(reversed(items))}}}"))
    return out


def rewritten(gold: str) -> str:
    """`gold` written another way a model might: one-character groups without braces ("c^{2}" -> "c^2"), \\dfrac
    for \\frac, no \\left and \\right, so that the grader must read it rather than match its text."""
    text = re.sub(r"([\^_])\{(\w)\}", r"\1\2", gold).replace("\\frac", "\\dfrac")
    return re.sub(r"\\(?:left|right)(?![A-Za-z])", "", text)


def near_misses(p: Problem) -> list[tuple[str, str]]:
    """Answers close to the gold that are wrong: each must grade wrong."""
    if p.choices:
        other = p.choices[(p.choices.index(p.gold) + 1) % len(p.choices)]
        return [("another option", f"\\boxed{{{other}}}")]
    out = []
    if p.answer_type == "list" and len(items := split_items(p.gold)) > 1:
        changed = [(kind, [miss] + items[1:]) for kind, miss in (("off by one", off_by_one(items[0])),
                                                                  ("wrong sign", negated(items[0]))) if miss]
        changed.append(("dropped term", items[:-1]))
        out += [(kind, f"\\boxed{{{', '.join(its)}}}") for kind, its in changed]
    else:
        number = p.answer_type == "number" and tolerance(p.gold) is not None
        for kind, miss in (("off by one", last_digit_up(p.gold) if number else off_by_one(p.gold)),
                           ("wrong sign", negated(p.gold)),
                           ("dropped term", None if number else dropped_term(p.gold))):
            if miss:
                out.append((kind, f"\\boxed{{{miss}}}"))
    if p.unit:
        out.append(("wrong unit", f"\\boxed{{{p.gold} {_written(other_unit(p.unit))}}}"))
    return out


def off_by_one(gold: str) -> str:
    """The first integer in `gold` plus one ("\\frac{1}{576}" -> "\\frac{2}{576}"); "+1" appended without one."""
    m = re.search(r"(?<![\d.])\d+(?![\d.])", gold) or re.search(r"\d+", gold)
    if m is None:
        return f"{gold}+1"
    return f"{gold[:m.start()]}{int(m.group()) + 1}{gold[m.end():]}"


def last_digit_up(gold: str) -> str:
    """A "number" gold with its last significant digit one higher (one lower for a 9): "1.6" -> "1.7", "4.5e33" ->
    "4.6e33", "6630" -> "6640", "0.10" -> "0.11"."""
    m = re.fullmatch(r"([+-]?)([\d.]+)((?:[eE][+-]?\d+)?)", gold.strip())
    sign, digits, exponent = m.groups()
    if "." in digits:
        i = len(digits) - 1 if digits[-1] != "." else len(digits) - 2
    else:   # an integer's trailing zeros are not significant
        i = len(digits.rstrip("0")) - 1 if digits.strip("0") else len(digits) - 1
    d = int(digits[i])
    return f"{sign}{digits[:i]}{d + 1 if d < 9 else d - 1}{digits[i + 1:]}{exponent}"


def negated(gold: str) -> str | None:
    """`gold` with a wrong sign: negated; an equation with its last term's sign flipped; a tuple or interval with its
    first entry negated; None when that changes nothing (0)."""
    text = gold.strip()
    if re.fullmatch(r"[-+]?0*\.?0*", text):
        return None
    if re.fullmatch(r"[\d.]+(?:[eE][+-]?\d+)?", text):
        return f"-{text}"
    if "=" in text:
        lhs, _, rhs = text.rpartition("=")
        for side, rebuild in ((lhs, lambda t: f"{t}={rhs}"), (rhs, lambda t: f"{lhs}={t}")):
            terms = _terms(side)
            if len(terms) > 1:
                last = terms[-1].lstrip()
                flipped = ("-" if last.startswith("+") else "+") + last[1:]
                return rebuild("".join(terms[:-1]) + flipped)
        return None if re.fullmatch(r"\s*0\s*", rhs) else f"{lhs}=-\\left({rhs}\\right)"
    inner = re.fullmatch(r"([(\[])(.*)([)\]])", text, flags=re.DOTALL)
    if inner and balanced(inner.group(2)) and len(items := split_items(inner.group(2))) > 1:
        for k, item in enumerate(items):   # the first entry that is not 0
            if (flipped := negated(item)) is not None:
                items[k] = flipped
                return f"{inner.group(1)}{', '.join(items)}{inner.group(3)}"
        return None
    if text.startswith("-") and not _terms(text[1:])[1:]:
        return text[1:]
    return f"-\\left({text}\\right)"


def dropped_term(gold: str) -> str | None:
    """`gold` without the last term of its (left-hand side's) top-level sum; None when it has one term."""
    lhs, eq, rhs = gold.partition("=")
    for side, rebuild in ((lhs, lambda t: t + eq + rhs), (rhs, lambda t: lhs + eq + t)):
        terms = _terms(side)
        if len(terms) > 1:
            return rebuild("".join(terms[:-1]))
    return None


def _terms(text: str) -> list[str]:
    """`text` cut before each top-level binary + or - ("14+4\\sqrt{37}" -> ["14", "+4\\sqrt{37}"])."""
    cuts, depth = [0], 0
    for i, c in enumerate(text):
        depth += (c in "([{") - (c in ")]}")
        if c in "+-" and depth == 0 and text[:i].strip() and not re.search(r"(?:[eE^_]|\\times|\\cdot|[-+*/(])\s*$",
                                                                            text[:i]):
            cuts.append(i)
    return [text[a:b] for a, b in zip(cuts, cuts[1:] + [len(text)])]


_OTHER_UNITS = {"min": "hours", "h": "minutes", "s": "minutes", "yr": "days", "days": "years", "Å": "nm", "nm": "Å",
                "deg": "radians", "rad": "degrees", "m": "cm", "cm": "m", "km": "m", "km/h": "m/s", "m/s": "km/s",
                "km/s": "m/s", "eV": "J", "J": "eV", "kg": "g", "g": "kg", "K": "°C", "°C": "K", "pc": "km"}


def _written(unit: str) -> str:
    unit = unit.strip().strip("$")
    return unit if "\\" in unit or "{" in unit else f"\\text{{ {unit}}}"


def other_unit(unit: str) -> str:
    """A different unit of the same kind where one comes to mind ("minutes" -> "hours"), else kilograms."""
    from benchmarks.answer_types import unit_key

    key = unit_key(unit)
    return _OTHER_UNITS.get(key, "kg" if key != "kg" else "s")
