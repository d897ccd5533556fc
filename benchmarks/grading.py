"""Prompts, answer extraction and answer equivalence, on top of Math-Verify.

The prompt asks for the final answer in \\boxed{}; `extract_answer` reads it back (with the usual fallbacks) and
`grade` compares it with the gold answer through Math-Verify's parse/verify (HuggingFace Math-Verify 0.9,
https://github.com/huggingface/Math-Verify). Choice letters are matched by `grade_choice`; `group_answers` gives
the answer classes that majority voting counts. Math-Verify is asked only about pairs whose values may be
equal (answer_values.py): each distinct answer is parsed once, and the other pairs could not be equivalent.

Each grade says how its answer was found (`Grade.extraction`, one of EXTRACTIONS): "boxed" (the last \\boxed{}),
"marked" ("#### X", "The answer is X", "Answer: (C)"), or a fallback that takes a final answer the response never
stated: "last_number" (its last number) or "letter" (its last "(C)" / "C)", or a bare letter). "none": nothing
found. A grade is strict when the answer was explicitly marked (boxed or marked); the flexible grade (`correct`)
also credits the fallbacks. lm-evaluation-harness reports GSM8K as "strict-match" and "flexible-extract" for the
same reason: a sample cut off mid-sentence whose last number happens to equal the gold is right only flexibly.

Example:
    grade(gold="0.5", response="so the answer is $\\boxed{\\frac{1}{2}}$.")   # Grade("\\frac{1}{2}", True, "boxed")
    grade(gold="18", response="... 9 + 9 = 18 so each")                       # Grade("18", True, "last_number")
    group_answers(["1/2", "0.5", "2", None])                                  # [0, 0, 1, -1]

Math-Verify times out with signal.alarm, which works only in a process's main thread. There we pass it TIMEOUT_S;
in other threads we turn its timeouts off and instead refuse answers of the shapes that make sympy hang (towers of
powers, big factorials, very long strings). To grade in parallel, use processes: each has its own main thread.
"""

from __future__ import annotations

import functools
import re
import threading
from decimal import Decimal, InvalidOperation
from typing import Sequence

from benchmarks.answer_values import Index, Values, may_equal
from benchmarks.base import Grade

GRADER_VERSION = 3
"""The grader's version, recorded in each run's manifest; bump it whenever extraction or equivalence changes, so a
stored run shows it was graded by an older grader (`python -m testtime regrade RUN` grades it again).
1: one flexible grade per sample; 2: how the answer was found, and the strict grade beside the flexible one;
3: two equations are equal only if they agree (not merely because sympy solves neither), and the benchmarks'
answer types (benchmarks/answer_types.py)."""

TIMEOUT_S = 3
"""Seconds Math-Verify may spend parsing or comparing one answer (main thread only)."""

MATH_INSTRUCTION = "Solve the problem step by step. Put your final answer within \\boxed{}."
CHOICE_INSTRUCTION = "Solve the problem step by step. Put the letter of the correct option within \\boxed{}."

# The prompts the 2025-26 papers' harnesses use, as `str.format` templates of the problem text:
MATHARENA_PROMPT = "Put your final answer within \\boxed{{}}.\n\n{problem}"
"""MathArena (eth-sri/matharena @ e927660, configs/competitions/{hmmt,brumo}/*.yaml `instruction`, which
src/matharena/runner.py puts before the problem with a blank line between)."""
MATHARENA_AIME_PROMPT = ("Put your final answer within \\boxed{{}}.\nThe answer is an integer between 0 and 999 "
                         "inclusive.\n\n{problem}")
"""MathArena's AIME instruction (configs/competitions/aime/aime_2025.yaml)."""
QWEN_BOXED_PROMPT = "{problem}\nPlease reason step by step, and put your final answer within \\boxed{{}}."
"""The Qwen2.5-Math evaluation's user message (QwenLM/Qwen2.5-Math @ a45202b, evaluation/utils.py
PROMPT_TEMPLATES["qwen-boxed"], without the chat template, which the sampler applies); also the instruction of
DeepSeek-R1's and most 2025 reasoning papers' evaluations."""


def math_prompt(question: str, template: str | None = None) -> str:
    """Zero-shot chain-of-thought user message for a free-form answer: testtime's own instruction after the question,
    or `template` (one of the *_PROMPT templates above) filled with it."""
    if template is not None:
        return template.format(problem=question.strip())
    return f"{question.strip()}\n\n{MATH_INSTRUCTION}"


def choice_prompt(question: str, options: Sequence[str], letters: str) -> str:
    """Zero-shot chain-of-thought user message listing options as "A) ...", one per line."""
    lines = [f"{letter}) {option.strip()}" for letter, option in zip(letters, options)]
    return f"{question.strip()}\n\n" + "\n".join(lines) + f"\n\n{CHOICE_INSTRUCTION}"


def number_text(value: float | int | str) -> str:
    """A numeric gold answer as text: 27.0 -> "27", 0.5 -> "0.5", "1,000" -> "1000"."""
    number = _decimal(str(value))
    if number is None:
        return str(value).strip()
    return format(number.normalize(), "f") if number == number.to_integral_value() else str(value).strip()


_BOXED = re.compile(r"\\(?:boxed|fbox|framebox)(?![A-Za-z])")
_HASHES = re.compile(r"####\s*([^\n]+)")
_ANSWER_IS = re.compile(r"(?i:answer)\s*(?:is|:)\s*:?\s*([^\n]+?)(?:\.\s|\.?\s*$)", re.MULTILINE)
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?|-?\.\d+")


def extract_answer(response: str) -> str | None:
    """The final answer in `response`, stripped, or None (the flexible extraction; `find_answer` also says how)."""
    return find_answer(response)[0]


def find_answer(response: str) -> tuple[str | None, str]:
    """The final answer in `response` and how it was found: (answer, "boxed" | "marked" | "last_number" | "none").

    Looks for the last complete \\boxed{...} (balanced braces; also `\\boxed 5`, \\fbox): "boxed"; then "#### X",
    then "answer is X" / "answer: X": "marked"; then the last number in the text: "last_number".

    Example:
        find_answer("so 3 + 4 = 7. The answer is 7.")    # ("7", "marked")
        find_answer("3 + 4 = 7, and then we")           # ("7", "last_number")
    """
    said = _last(_ANSWER_IS, response)
    if said is not None and not re.search(r"[\d\\$]", said) and len(said.split()) > 3:
        said = None  # "the answer is not obvious yet": prose, not an answer
    for found, how in ((_last_boxed(response), "boxed"), (_last(_HASHES, response), "marked"), (said, "marked")):
        if found is not None and _clean(found):
            return _clean(found), how
    numbers = _NUMBER.findall(response)
    return (_clean(numbers[-1]), "last_number") if numbers else (None, "none")


def _last(pattern: re.Pattern, text: str) -> str | None:
    matches = pattern.findall(text)
    return matches[-1] if matches else None


def _last_boxed(text: str) -> str | None:
    # The last box that closes: a truncated sample may end inside an unfinished \boxed{.
    for match in reversed(list(_BOXED.finditer(text))):
        rest = text[match.end():]
        body = rest.lstrip()
        if body.startswith("{"):
            inside = _balanced(body)
            if inside is not None:
                return inside
        elif rest[:1].isspace() and body:  # "\boxed 5": the token after the space
            return re.split(r"[\s$]", body, maxsplit=1)[0]
    return None


def _balanced(text: str) -> str | None:
    depth, i = 0, 0
    while i < len(text):
        if text[i] == "\\":  # \{ and \} are literal braces (sets), not grouping
            i += 2
            continue
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[1:i]
        i += 1
    return None


_UNITS = re.compile(r"^(?:\\?\$)?\s*(-?[\d,]*\.?\d+)\s*(?:[A-Za-z]{2,}[A-Za-z ]*)?$")


def _clean(answer: str) -> str:
    """Canonical surface form: no math delimiters, trailing period, dollar sign or plain-word unit."""
    text = answer.strip()
    for left, right in (("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if text.startswith(left) and text.endswith(right) and len(text) > len(left) + len(right) - 1:
            text = text[len(left):len(text) - len(right)].strip()
    text = text.rstrip(".").strip()
    text = _final_value(text)
    number = _UNITS.match(text)  # "\$18", "18 dollars" -> "18" (Math-Verify reads "dollars" as a product)
    return number.group(1) if number else text


def _final_value(text: str) -> str:
    """The last side of a worked arithmetic chain: "20 + 1 = 21" -> "21", "44 / 3 = 14%" -> "14%".

    Math-Verify compares such an equation with a number by its right-hand side, but two of them with each other
    unreliably: "44 / 3 = 14%" and "17 + 18 = 35" came out equivalent, merging unrelated answers into one vote
    class (seen in a 200-problem GSM8K run). Equations with letters on the left ("x = 5", "y = 2x + 3") are
    answers in their own right; kept.
    """
    sides = text.split("=")
    if len(sides) < 2 or not all(side.strip() for side in sides):
        return text
    left = re.sub(r"\\(?:[dt]?frac|times|cdot|div|left|right)(?![A-Za-z])", "", "=".join(sides[:-1]))
    return sides[-1].strip() if not re.search(r"[A-Za-z\\]", left) else text


def _decimal(answer: str) -> Decimal | None:
    """The value of a plain decimal number ("1,000", "\\$5", "025", "2.50"), else None."""
    text = answer.replace("\\!", "").replace("\\$", "").replace("$", "").strip()
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", text):
        text = text.replace(",", "")
    if not re.fullmatch(r"[-+]?(?:\d+\.?\d*|\.\d+)", text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _key(answer: str) -> str:
    """A string key under which surface variants of one answer coincide."""
    number = _decimal(answer)
    if number is not None:
        return format(number.normalize(), "f")  # "1,000", "1000.0", "01000" -> "1000"
    text = re.sub(r"\\left|\\right|\\!|\\,|\\;|\\ |\s", "", answer)
    return text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")


# ---- Math-Verify ------------------------------------------------------------------------------------------------

_RISKY = re.compile(r"\^\s*\{[^{}]*\^|\^\s*\d+\s*\^|\d{4,}\s*!|\\(?:underbrace|overbrace)")


def _timeout() -> int | None:
    # signal.alarm exists only in the main thread; elsewhere Math-Verify raises unless its timeouts are off.
    return TIMEOUT_S if threading.current_thread() is threading.main_thread() else None


@functools.lru_cache(maxsize=1)
def _math_verify():
    import math_verify  # sympy-heavy; imported on first grade so `--help` and the analyzer stay fast

    config = [math_verify.LatexExtractionConfig(boxed_match_priority=0), math_verify.ExprExtractionConfig()]
    return math_verify, config


_INTEGER = re.compile(r"[-+]?\d+|-?\d{1,3}(?:,\d{3})+")


@functools.lru_cache(maxsize=65536)
def _parse(answer: str) -> tuple:
    """Math-Verify's parse of one extracted answer; () when it cannot be read (or is unsafe off the main thread)."""
    if _INTEGER.fullmatch(answer):
        # What Math-Verify's parse returns for a plain integer ("042", "+3", "1,000"), without its LaTeX parser
        # (~3 ms an answer; most answers on GSM8K-like sets are integers). tests/benchmarks/test_grading.py checks
        # the two agree.
        from sympy import Integer

        return Integer(int(answer.replace(",", ""))), answer
    timeout = _timeout()
    if timeout is None and (len(answer) > 400 or _RISKY.search(answer)):
        return ()
    if re.fullmatch(r"[A-Za-z][A-Za-z ]+", answer):  # a bare word would parse as a product of letters
        answer = f"\\text{{{answer}}}"
    mv, config = _math_verify()
    return tuple(_real_letters(p) for p in mv.parse(f"\\boxed{{{answer}}}", extraction_config=config,
                                                    parsing_timeout=timeout))


def _real_letters(item):
    # Math-Verify makes letters real, but some parses (seen: "\frac{d^{2} v_{o}}{d t^{2}}+...", braces and all)
    # come back with letters marked not real, which then never equal the same letters written "v_o": made real too.
    symbols = getattr(item, "free_symbols", None)
    if not symbols or not any(s.is_Symbol and s.is_real is False for s in symbols):
        return item
    from sympy import Symbol

    return item.xreplace({s: Symbol(s.name, real=True) for s in symbols if s.is_Symbol and s.is_real is False})


@functools.lru_cache(maxsize=65536)
def _values(answer: str) -> Values:
    """What of `answer`'s parse can equal another's (answer_values.py); worked out once per distinct answer."""
    # Values are a few evalf calls; a second is plenty, and Math-Verify spends its own timeout on what it leaves.
    return _guarded(Values.of, _parse(answer), fallback=Values.anything(), seconds=1)


def _guarded(fn, *args, fallback, seconds: int = TIMEOUT_S):
    # Under a timeout in the main thread (sympy can be slow); elsewhere only answers _parse deems safe get here.
    if _timeout() is None:
        return fn(*args)
    mv, _ = _math_verify()
    try:
        return mv.utils.timeout(seconds)(fn)(*args)
    except mv.errors.TimeoutException:
        return fallback


@functools.lru_cache(maxsize=65536)
def _verify(gold: str, answer: str) -> bool:
    # Order matters to Math-Verify (the gold side decides, e.g., whether "(1,2)" is an interval or a tuple).
    # Cached: the same few answers (small integers, common fractions) recur across samples and problems.
    if _key(gold) == _key(answer):
        return True
    gold_number, number = _decimal(gold), _decimal(answer)
    if gold_number is not None and number is not None:
        return gold_number == number  # exact, and no sympy for the common case of two plain numbers
    parsed_gold, parsed = _parse(gold), _parse(answer)
    if not parsed_gold or not parsed:
        return False
    if all(getattr(p[0], "is_Rational", False) for p in (parsed_gold, parsed)):
        return bool(parsed_gold[0] == parsed[0])  # exact, as Math-Verify would decide; floats still go to it
    if not _guarded(may_equal, _values(gold), _values(answer), fallback=True):
        return False  # values that differ: none of Math-Verify's checks could find them equal
    mv, _ = _math_verify()
    same = bool(mv.verify(list(parsed_gold), list(parsed), timeout_seconds=_timeout()))
    if same and _is_equation(parsed_gold[0]) and _is_equation(parsed[0]):
        return _guarded(_equations_agree, parsed_gold[0], parsed[0], fallback=False)
    return same


def _is_equation(item) -> bool:
    from sympy import Eq

    return isinstance(item, Eq)


def _equations_agree(a, b) -> bool:
    """Whether two equations are the same: lhs - rhs of one a nonzero constant times the other's (checked at two
    points, derivatives and functions of letters taken as letters), or, in one letter, the same solutions.

    Math-Verify 0.9 also calls two equations equal when sympy finds no solutions to either (grader.py,
    `sympy_solve_and_compare`), which it does not for differential equations or equations in letters only, so
    "dx/dt = kx + a" equalled "dx/dt = kx - a", and "N = n + 1" equalled "N = n" (whose letters it reads as one).
    """
    from sympy import Derivative, Dummy, Rational, solve
    from sympy.core.function import AppliedUndef

    d1, d2 = a.lhs - a.rhs, b.lhs - b.rhs
    opaque = {x: Dummy() for d in (d1, d2) for x in d.atoms(Derivative, AppliedUndef)}
    e1, e2 = d1.xreplace(opaque), d2.xreplace(opaque)
    letters = sorted(e1.free_symbols | e2.free_symbols, key=str)
    ratios = []
    for k in (1, 2):
        point = {x: Rational(1000 + 7919 * k * (i + 1) % 997, 700) for i, x in enumerate(letters)}
        try:
            v1, v2 = complex(e1.evalf(30, subs=point)), complex(e2.evalf(30, subs=point))
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            return False
        if abs(v2) < 1e-12:
            if abs(v1) >= 1e-12:
                return False
            continue
        ratios.append(v1 / v2)
    if ratios and all(abs(r) > 1e-12 and abs(r - ratios[0]) <= 1e-9 * abs(ratios[0]) for r in ratios):
        return True
    if len(letters) == 1 and not opaque:
        s1, s2 = solve(a, letters[0]), solve(b, letters[0])
        return bool(s1) and len(s1) == len(s2) and all(any(abs(complex((u - v).evalf())) < 1e-9 for v in s2)
                                                       for u in s1)
    return False


def grade(*, gold: str, response: str) -> Grade:
    """Extract the final answer from `response` and check it against `gold` with Math-Verify.

    Args:
        gold: the benchmark's normalised gold answer (number or LaTeX, without \\boxed).
        response: the model's full response text.
    Returns:
        Grade(answer, correct, extraction): `correct` is the flexible grade, `grade.correct_strict` the strict one;
        answer is None (and correct False) when nothing could be extracted.
    Example:
        grade(gold="1000", response="... \\boxed{1,000}")   # Grade(answer="1,000", correct=True, extraction="boxed")
    """
    answer, how = find_answer(response)
    if answer is None:
        return Grade(answer=None, correct=False, extraction="none")
    return Grade(answer=answer, correct=_verify(_clean(gold), answer), extraction=how)


def matches(*, gold: str, answer: str) -> bool:
    """Whether an extracted `answer` equals `gold` under Math-Verify (the gold side decides how each is read)."""
    return _verify(_clean(gold), _clean(answer))


def box_spans(text: str) -> list[tuple[int, int, str]]:
    """Every complete \\boxed{...} (also \\fbox) in `text`: (start, end, content), in order."""
    spans = []
    for match in _BOXED.finditer(text):
        rest = text[match.end():]
        body = rest.lstrip()
        if body.startswith("{") and (inside := _balanced(body)) is not None:
            end = match.end() + (len(rest) - len(body)) + len(inside) + 2
            spans.append((match.start(), end, inside))
    return spans


def equivalent(a: str, b: str) -> bool:
    """Whether two extracted answers are the same mathematical object (checked in both directions)."""
    a, b = _clean(a), _clean(b)
    return _verify(a, b) or _verify(b, a)


def group_answers(answers: Sequence[str | None]) -> list[int]:
    """Answer class per answer: equivalent answers share an id, numbered 0..k-1 by first appearance; None -> -1.

    Each new distinct answer joins the first class whose first answer is equivalent to it, else starts one. Only
    the classes it may equal (the same number, or values that answer_values.py cannot tell apart) are asked; the
    others could not be equivalent, so the classes are those of asking every class in turn, without its quadratic
    cost.
    """
    class_of_key: dict[str, int] = {}
    representatives: list[str] = []
    index, by_number = Index(), {}
    ids = []
    for answer in answers:
        if answer is None:
            ids.append(-1)
            continue
        text = _clean(answer)
        key = _key(text)
        if key not in class_of_key:
            values, number = _values(text), _decimal(text)
            candidates = index.candidates(values)
            if number is not None and number in by_number:  # "-0" and "0": two keys, one number
                candidates = sorted({*candidates, *by_number[number]})
            match = next((i for i in candidates if equivalent(representatives[i], answer)), None)
            if match is None:
                match = index.add(values)
                representatives.append(answer)
                if number is not None:
                    by_number.setdefault(number, []).append(match)
            class_of_key[key] = match
        ids.append(class_of_key[key])
    return ids


# ---- multiple choice ----------------------------------------------------------------------------------------------


def extract_choice(response: str, letters: str) -> str | None:
    """The chosen option letter: from \\boxed{B}, "answer is (B)", the last "(B)" or "B)", or a bare "B"."""
    return find_choice(response, letters)[0]


def find_choice(response: str, letters: str) -> tuple[str | None, str]:
    """The chosen option letter and how it was found: (letter, "boxed" | "marked" | "letter" | "none").

    \\boxed{B}: "boxed"; "answer is (B)" / "Answer: B": "marked"; the last "(B)" or "B)" anywhere, or a response that
    is a bare "B": "letter" (a fallback: "A) 5, B) 6" in a truncated sample's working names no choice).

    Example:
        find_choice("so the answer is (C).", "ABCD")     # ("C", "marked")
        find_choice("Option A) fails, B) works", "ABCD") # ("B", "letter")
    """
    one = f"[{re.escape(letters)}]"
    alone = rf"(?<![A-Za-z])({one})(?![A-Za-z])"
    boxed = _last_boxed(response)
    if boxed is not None:
        found = re.findall(alone, re.sub(r"\\[A-Za-z]+", " ", boxed))  # drop \text, \textbf, ...
        if found:
            return found[0], "boxed"
    for pattern, how in ((rf"(?i:answer)\s*(?:is|:)\s*:?\s*[(\[]?{alone}", "marked"), (rf"\(({one})\)", "letter"),
                         (rf"(?<![A-Za-z])({one})\)", "letter")):
        found = re.findall(pattern, response)
        if found:
            return found[-1], how
    bare = re.fullmatch(rf"\s*{alone}[.)]?\s*", response)
    return (bare.group(1), "letter") if bare else (None, "none")


def grade_choice(*, gold: str, response: str, letters: str) -> Grade:
    """Grade a multiple-choice response: the extracted letter must equal `gold` (e.g. letters="ABCDE")."""
    answer, how = find_choice(response, letters)
    return Grade(answer=answer, correct=answer is not None and answer == gold.strip().upper(), extraction=how)
