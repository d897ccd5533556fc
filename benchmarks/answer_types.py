"""Answer types: what counts as equal for each kind of gold answer, on top of grading.py (extraction, Math-Verify).

A problem's `answer_type` (benchmarks.base.Problem) picks the rule; `unit` adds a unit check to any of them.

- "integer", "expression" (and "", the default): Math-Verify equivalence, as `grading.grade`: "025" = "25",
  "\\frac{1}{2}" = "0.5", "\\sqrt{\\frac{95}{24}}" = "\\frac{\\sqrt{570}}{12}", expressions in letters by value, tuples
  element by element in order, intervals by their ends and brackets, sets in any order, an equation by its
  right-hand side ("f(x)=2x" = "2x"), "44^{\\circ}" = "44".
- "list": several answers in one ("3, 5", "(1,8,19), (2,7,13)"), in any order. The gold and the answer are split at
  top-level commas (also at "and", "or", ";" and "\\quad"; "1 \\pm \\sqrt{2}" is two items; "x \\in \\{1, 3\\}" is
  two); each gold item must equal (Math-Verify) a different answer item and none may be left over, so "-2, -2"
  needs two -2s and "-2" alone is wrong (Math-Verify alone reads both as the set {-2}). Boxes in a row
  ("\\boxed{1}, \\boxed{3}") are one answer. This is how OlympiadBench's own judger pairs multiple answers
  (OpenBMB/OlympiadBench, inference/code/math_judger.py `judge`), also for answers the problem asks in an order
  ("a, h and k"): they pass in any order there too.
- "number": an approximate number (Minerva's science answers, given to 1-4 significant figures): equal when within
  half a unit of the gold's last significant digit, the gold's own rounding ("1.6" accepts 1.55 to 1.65, "4.5e33"
  4.45e33 to 4.55e33, "566" 565.5 to 566.5, "6630" 6625 to 6635: an integer's trailing zeros are not significant),
  and never more than NUMBER_MAX_REL (5%) away ("3e8" accepts 2.85e8 to 3.15e8, not 2.5e8). The answer may be
  written any way Math-Verify evaluates to a number ("4.5 \\times 10^{33}", "\\frac{8}{5}"). A gold that is not a
  plain number, or an answer that is not a number, is compared as an expression.
  The reference graders differ: the Qwen2.5-Math evaluation compares numbers with a relative tolerance of 1e-4
  (QwenLM/Qwen2.5-Math evaluation/grader.py `numeric_equal`, also accepting x100 and /100), so the correct 1.57 for
  Minerva's "1.6" (problem 0, 45/3600 * pi/180 * 7200 = 1.5708) is wrong there and right here, while 15626 for
  "15625" is right there and wrong here; lm-evaluation-harness's "minerva_math" is Hendrycks MATH with Minerva's
  prompt (exact sympy equality), not these problems.
- A unit (Problem.unit: OlympiadBench's `unit` field; for Minerva the unit its solution writes after the boxed
  answer): an answer may leave the unit out (OlympiadBench's prompt asks for it outside the box) or state the same
  unit (written any way: "\\mathrm{~km} / \\mathrm{s}" = "km/s", "minutes" = "min", "\\AA" = "Angstroms"); another
  unit ("45 hours" for 45 minutes) is wrong, and so is the number converted to another unit ("0.016 m" for 1.6 cm):
  nothing converts units. Degrees need no unit: "44^{\\circ}", "44°", "44 degrees" and "44" are all 44.

Example:
    grade_answer(gold="-2, -2", response="\\\\boxed{-2}", answer_type="list").correct            # False
    grade_answer(gold="1.6", response="\\\\boxed{1.57}", answer_type="number").correct            # True
    grade_answer(gold="45", response="\\\\boxed{45 \\\\text{ hours}}", unit="minutes").correct      # False
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from benchmarks.base import Grade
from benchmarks.grading import _clean, _decimal, _parse, box_spans, find_answer, matches

ANSWER_TYPES = ("integer", "expression", "list", "number")
NUMBER_MAX_REL = 0.05
"""The widest relative tolerance of a "number" gold (1-figure golds such as "3e8" or "100")."""


def grade_answer(*, gold: str, response: str, answer_type: str = "", unit: str = "") -> Grade:
    """Extract the final answer from `response` and compare it with `gold` under `answer_type` (and `unit`).

    Args:
        gold: the problem's gold answer.
        response: the model's full response.
        answer_type: one of ANSWER_TYPES; "" is "expression".
        unit: the unit the answer is asked in ("" when none is known).
    Returns:
        Grade(answer, correct, extraction), as grading.grade.
    """
    if answer_type and answer_type not in ANSWER_TYPES:
        raise ValueError(f"unknown answer type {answer_type!r}; known: {', '.join(ANSWER_TYPES)}")
    answer, how = find_list_answer(response) if answer_type == "list" else find_answer(response)
    if answer is None:
        return Grade(answer=None, correct=False, extraction="none")
    return Grade(answer=answer, correct=equal(gold, answer, answer_type=answer_type, unit=unit), extraction=how)


def equal(gold: str, answer: str, *, answer_type: str = "", unit: str = "") -> bool:
    """Whether an extracted `answer` equals `gold` under `answer_type`, stating no unit or `unit`."""
    if unit:
        value, stated = strip_unit(answer, unit)
    else:
        value, stated = split_unit(answer) if answer_type == "number" else (answer, "")
    if stated and unit and not same_unit(stated, unit):
        return False
    if stated and not unit and answer_type != "number":
        value = answer   # no unit to check: Math-Verify reads (and drops) \text{} units itself
    if answer_type == "list":
        return lists_equal(split_items(gold), split_items(value))
    if answer_type == "number":
        return number_equal(gold, value)
    return expressions_equal(gold, value)


def expressions_equal(gold: str, answer: str) -> bool:
    """Math-Verify equivalence, with letters it misreads renamed on both sides (`readable`), and an assignment gold
    ("m_{\\max} = n^2 - n - 1") also matched by its right-hand side, as OlympiadBench's judger keeps only the right
    of "=" (Math-Verify compares the two only when it can read the left)."""
    gold, answer = readable(gold), readable(answer)
    if matches(gold=gold, answer=answer):
        return True
    lhs, eq, rhs = gold.partition("=")
    if not eq or "=" in rhs or not _NAME.fullmatch(lhs.strip()):
        return False
    a_lhs, a_eq, a_rhs = answer.partition("=")
    mine = a_rhs if a_eq and "=" not in a_rhs and _NAME.fullmatch(a_lhs.strip()) else answer
    return matches(gold=rhs, answer=mine)


_NAME = re.compile(r"\\?[A-Za-z]+(?:_\{?[^{}=+\-*/]*\}?)?(?:\([A-Za-z]\))?")
"""The left side of an assignment: a letter or named quantity, maybe subscripted or a function of one letter."""


def readable(text: str) -> str:
    """`text` with what Math-Verify 0.9 misreads renamed: a subscripted E ("\\frac{1}{3} E_{1}+\\frac{2}{3} E_{2}"
    reads as 2/3) becomes \\varepsilon, \\odot (the Sun's symbol, unreadable) "sun", and "°" "^{\\circ}"."""
    text = re.sub(r"(?<![A-Za-z\\])E_", r"\\varepsilon_", text).replace("°", "^{\\circ}")
    return re.sub(r"_(?:\{\s*\\odot\s*\}|\\odot(?![A-Za-z]))", "_{sun}", text)


# ---- lists ------------------------------------------------------------------------------------------------------

_JOIN = re.compile(r"(?:\s|,|;|\$|\\[,;:! ]|\\q?quad|\\text\{\s*(?:and|or|,)?\s*\}|\band\b|\bor\b)*")


def find_list_answer(response: str) -> tuple[str | None, str]:
    """As grading.find_answer, but boxes in a row at the last one ("\\boxed{1}, \\boxed{3} and \\boxed{5}") are one
    answer, "1, 3, 5"."""
    answer, how = find_answer(response)
    spans = box_spans(response)
    if how != "boxed" or len(spans) < 2:
        return answer, how
    run = [spans[-1]]
    for span in reversed(spans[:-1]):
        if not _JOIN.fullmatch(response[span[1]:run[0][0]]):
            break
        run.insert(0, span)
    if len(run) == 1:
        return answer, how
    return ", ".join(_clean(inside) for _, _, inside in run), how


_SEPARATOR = re.compile(r"\\text\{\s*(?:and|or)\s*\}|\\q?quad\b|\band\b|\bor\b|;")
_OPEN, _CLOSE = "([{", ")]}"


def split_items(text: str) -> list[str]:
    """The items of a list answer, split at top-level commas (and "and", "or", ";", "\\quad"); "\\pm" gives two.

    Example:
        split_items("(1,8,19), (2,7,13)")      # ["(1,8,19)", "(2,7,13)"]
        split_items("x \\in \\{1, 3\\}")        # ["1", "3"]
        split_items("1 \\pm \\sqrt{2}")        # ["1 + \\sqrt{2}", "1 - \\sqrt{2}"]
    """
    text = _SEPARATOR.sub(",", text.replace("$", ""))
    text = re.sub(r"^\s*[A-Za-z]\w*\s*(?:=|\\in)\s*(?=\\\{)", "", text)   # "x \in \{1, 3\}" -> the set
    inner = re.fullmatch(r"\s*\\\{(.*)\\\}\s*", text, flags=re.DOTALL)
    if inner and balanced(inner.group(1)):
        text = inner.group(1)
    items, depth, start, i = [], 0, 0, 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "{}":
            depth += 1 if text[i + 1] == "{" else -1
            i += 2
            continue
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        elif c == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
        i += 1
    items.append(text[start:])
    out = []
    for item in (_clean(it) for it in items):
        if not item:
            continue
        if "\\pm" in item or "\\mp" in item:
            out += [item.replace("\\pm", "+", 1).replace("\\mp", "-", 1),
                    item.replace("\\pm", "-", 1).replace("\\mp", "+", 1)]
        else:
            out.append(item)
    return out


def balanced(text: str) -> bool:
    """Whether `text`'s brackets, braces and \\{ \\} close in order ("\\{1\\} \\cup \\{2\\}" inside one pair of
    braces is "1\\} \\cup \\{2": not balanced, so not one set)."""
    depth = 0
    for c in re.sub(r"\\[{}]", lambda m: "(" if m.group() == "\\{" else ")", text):
        depth += (c in _OPEN) - (c in _CLOSE)
        if depth < 0:
            return False
    return depth == 0


def lists_equal(gold_items: list[str], answer_items: list[str]) -> bool:
    """Whether each gold item equals a different answer item, none left over (a perfect matching)."""
    if len(gold_items) != len(answer_items) or not gold_items:
        return False
    fits = [[j for j, a in enumerate(answer_items) if matches(gold=g, answer=a)] for g in gold_items]
    owner: dict[int, int] = {}

    def place(i: int, seen: set) -> bool:   # Kuhn's augmenting path
        for j in fits[i]:
            if j not in seen:
                seen.add(j)
                if j not in owner or place(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    return all(place(i, set()) for i in range(len(gold_items)))


# ---- approximate numbers ----------------------------------------------------------------------------------------

_PLAIN = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def tolerance(gold: str) -> float | None:
    """How far a "number" answer may be from `gold`: half a unit of its last significant digit, at most
    NUMBER_MAX_REL of it; None when `gold` is not a plain number.

    Example:
        tolerance("1.6"), tolerance("4.5e33"), tolerance("6630"), tolerance("3e8")   # 0.05, 5e31, 5.0, 1.5e7
    """
    text = gold.strip()
    if not _PLAIN.fullmatch(text):
        return None
    value = Decimal(text)
    exponent = value.as_tuple().exponent
    if re.fullmatch(r"[+-]?\d+", text):   # an integer's trailing zeros are not significant
        digits = text.lstrip("+-")
        exponent = len(digits) - len(digits.rstrip("0")) if digits.strip("0") else 0
    return min(0.5 * 10.0 ** exponent, NUMBER_MAX_REL * abs(float(value)))


def number_equal(gold: str, answer: str) -> bool:
    """A "number" gold against an answer: within `tolerance(gold)`; as expressions when either is not a number."""
    tol = tolerance(gold)
    value = number_value(answer) if tol is not None else None
    if value is None:
        return matches(gold=_latex_number(gold), answer=_latex_number(answer))
    return abs(value - float(gold)) <= tol * (1 + 1e-9)


def number_value(answer: str) -> float | None:
    """The real value of an answer that is a number ("1.57", "4.5e33", "4.5 \\times 10^{33}", "\\frac{8}{5}")."""
    text = _clean(answer)
    plain = _decimal(text)
    if plain is not None:
        return float(plain)
    if _PLAIN.fullmatch(text):
        try:
            return float(Decimal(text))
        except InvalidOperation:
            return None
    parsed = _parse(_latex_number(text))
    if not parsed or not getattr(parsed[0], "is_number", False):
        return None
    try:
        value = complex(parsed[0].evalf(30))
    except (TypeError, ValueError, OverflowError, ArithmeticError):
        return None
    return value.real if abs(value.imag) <= 1e-12 * max(1.0, abs(value.real)) else None


def _latex_number(text: str) -> str:
    # "4.5e33" -> "4.5 \times 10^{33}": Math-Verify reads the e as Euler's number (4.5*E*33)
    m = re.fullmatch(r"\s*([+-]?(?:\d+\.?\d*|\.\d+))[eE]([+-]?\d+)\s*", text)
    return f"{m.group(1)} \\times 10^{{{int(m.group(2))}}}" if m else text


# ---- units ------------------------------------------------------------------------------------------------------

_NUMERIC = (r"[+-]?\s*(?:\d+(?:[.,]\d+)*\.?\d*|\.\d+)(?:\s*[eE][+-]?\d+)?"
            r"(?:\s*(?:\\times|\\cdot|\*|x)\s*10\s*\^\s*(?:\{\s*[+-]?\d+\s*\}|[+-]?\d))?"
            r"|[+-]?\s*\\d?frac\{[\d.\s]+\}\{[\d.\s]+\}")
_UNIT_TOKEN = (r"\\(?:text|mathrm|textrm|rm|mbox|operatorname|unit)\s*\{[^{}]*\}|\{[^{}]*\}"
               r"|\\AA\b|\\circ\b|\\mu\b|\\Omega\b|\\%|%|°|Å|µ|Ω|[A-Za-z]+|\^\s*\{[^{}]*\}|\^\s*-?\d|\^\s*\\circ"
               r"|/|\\cdot|\\,|\\;|\\!|\\ |~|\(|\)|\s")
_QUANTITY = re.compile(rf"\s*(?P<value>{_NUMERIC})(?P<unit>(?:{_UNIT_TOKEN})*)\s*", re.DOTALL)


def strip_unit(answer: str, unit: str) -> tuple[str, str]:
    """(value, unit) of an answer to a problem asked in `unit`: a number and its unit (split_unit), else the answer
    without a trailing `unit` ("7.6 Z \\mathrm{eV}" -> ("7.6 Z", "\\mathrm{eV}")), else without a trailing unit
    answer_types knows (which is then another unit); (answer, "") when it ends in none."""
    value, stated = split_unit(answer)
    key = unit_key(unit)
    if stated and unit_key(stated) in (key, *KNOWN_UNITS):
        return value, stated
    tail = re.search(rf"(?:{_UNIT_TOKEN})+$", answer)
    for m in re.finditer(rf"{_UNIT_TOKEN}", tail.group()) if tail else ():
        suffix = tail.group()[m.start():]
        if suffix.strip() and (unit_key(suffix) == key or (unit_key(suffix) in KNOWN_UNITS
                                                           and re.search(r"[A-Za-z%°Åµ]{2,}|\\", suffix))):
            return answer[:tail.start() + m.start()].strip(), suffix.strip()
    return (value, stated) if stated else (answer, "")


def split_unit(answer: str) -> tuple[str, str]:
    """(value, unit) of an answer that is a number followed by a unit ("1.6 \\mathrm{~cm}" -> ("1.6",
    "\\mathrm{~cm}")); (answer, "") when it is not ("2 \\pi", "x + 1", "3 i")."""
    m = _QUANTITY.fullmatch(answer)
    if not m or not re.search(r"[A-Za-z%°Åµ]", m.group("unit")):
        return answer, ""
    unit = m.group("unit")
    key = unit_key(unit)
    if (len(key) == 1 and key not in _SAME) or key in ("i", "j", "e") or re.match(r"\s*e\s*\^", unit):
        return answer, ""   # a letter ("3x"), the imaginary unit or Euler's number: part of the value
    return m.group("value").replace(" ", ""), unit.strip()


_SAME = {key: name for name, keys in {
    "deg": ("deg", "degree", "degrees", "°", "^°", "^{°}", "circ"),
    "min": ("min", "mins", "minute", "minutes"),
    "h": ("h", "hr", "hrs", "hour", "hours"),
    "s": ("s", "sec", "secs", "second", "seconds"),
    "yr": ("yr", "yrs", "year", "years"),
    "Å": ("Å", "aa", "angstrom", "angstroms", "ångström", "ångströms"),
    "%": ("%", "percent", "percentage"),
    "km/h": ("km/h", "km/hr", "kmph", "kilometersperhour", "kilometresperhour"),
    "m": ("m", "meter", "meters", "metre", "metres"),
    "cm": ("cm", "centimeter", "centimeters", "centimetre", "centimetres"),
    "km": ("km", "kilometer", "kilometers", "kilometre", "kilometres"),
    "cm^2": ("cm^2", "cm2", "squarecentimeters", "squarecentimetres"),
    "pc": ("pc", "parsec", "parsecs"),
    "K": ("K", "kelvin", "kelvins"),
    "V": ("V", "volt", "volts"),
    "J": ("J", "joule", "joules"),
    "eV": ("eV", "electronvolt", "electronvolts"),
    "nm": ("nm", "nanometer", "nanometers", "nanometre", "nanometres"),
    "pm": ("pm", "picometer", "picometers", "picometre", "picometres"),
    "µm": ("µm", "um", "micron", "microns", "micrometer", "micrometers", "micrometre", "micrometres"),
    "Hz": ("Hz", "hertz"),
    "g": ("g", "gram", "grams"),
    "kg": ("kg", "kilogram", "kilograms"),
    "amu": ("amu", "u", "dalton", "daltons"),
    "rad": ("rad", "radian", "radians"),
    "arcsec": ("arcsec", "arcsecs", "arcsecond", "arcseconds", "''", "^{\\prime\\prime}", "^\\prime\\prime"),
    "°C": ("°C", "degC", "celsius", "degreescelsius"),
    "Gyr": ("Gyr", "gigayear", "gigayears", "billionyears"),
    "days": ("d", "day", "days"),
    "m/s": ("m/s", "ms^-1", "meterspersecond", "metrespersecond"),
    "km/s": ("km/s", "kms^-1", "kilometerspersecond", "kilometrespersecond"),
}.items() for key in keys}
KNOWN_UNITS = frozenset(_SAME.values())
"""Units written one way or another that same_unit recognises in any of its spellings."""


def unit_key(unit: str) -> str:
    """A unit written any way, as one key ("\\mathrm{~km} / \\mathrm{s}" -> "km/s", "minutes" -> "min")."""
    text = re.sub(r"\\(?:text|mathrm|textrm|rm|mbox|operatorname|unit)\s*\{([^{}]*)\}", r"\1", unit)
    text = text.replace("\\AA", "Å").replace("\\%", "%").replace("\\circ", "°").replace("\\mu", "µ")
    text = re.sub(r"\\[,;:! ]|~|\$|\s|[{}]", "", text)
    text = text.replace("^°", "°")
    if len(text) <= 2:   # "M" (molar) is not "m", nor "K" (kelvin) "k"
        return _SAME.get(text, text)
    return _SAME.get(text, _SAME.get(text.lower(), text.lower()))


def same_unit(a: str, b: str) -> bool:
    """Whether two written units are the same unit ("\\mathrm{~km} / \\mathrm{s}" and "km/s"; "min" and "minutes")."""
    return unit_key(a) == unit_key(b)
