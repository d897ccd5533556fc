"""Grading against known answers: extraction, Math-Verify equivalence, choice letters, answer classes."""

import functools
import json
import threading
import time

import pytest

from benchmarks.base import Grade
from benchmarks.grading import (_clean, _decimal, _equations_agree, _is_equation, _key, _math_verify, _parse, _timeout,
                                choice_prompt, equivalent, extract_answer, extract_choice, find_answer, find_choice,
                                grade, grade_choice, group_answers, math_prompt, number_text)
from tests.helpers import TESTS

VOTE_CLASSES = TESTS / "data" / "vote_classes.json"

GRADES = [  # gold, response, correct
    ("0.5", r"so $x = \boxed{\frac{1}{2}}$.", True),
    (r"\frac{1}{2}", r"\boxed{0.5}", True),
    ("1000", r"\boxed{1,000}", True),
    ("1000", "The answer is 1,000.", True),
    ("18", r"\boxed{\$18}", True),
    ("18", r"\boxed{18 \text{ dollars}}", True),
    ("18", "The answer is 18.", True),
    ("18", "She makes 18 dollars a day.\n#### 18", True),
    ("18", "So she earns $18 dollars in total", True),
    ("18", r"The answer is $18$.", True),
    ("18", r"\boxed{18\%}", True),
    ("18", r"\boxed{19}", False),
    ("18", "The answer is 180.", False),
    ("145", r"\boxed{145.0}", True),
    ("025", r"\boxed{25}", True),
    (r"\frac{\sqrt{2}}{2}", r"\boxed{\sqrt{2}/2}", True),
    (r"\frac{\sqrt{2}}{2}", r"\boxed{\sqrt{3}/2}", False),
    (r"\left( 3, \frac{\pi}{2} \right)", r"polar: $\boxed{(3, \frac{\pi}{2})}$", True),
    (r"\left( 3, \frac{\pi}{2} \right)", r"\boxed{(3, \pi)}", False),
    ("(-2,1)", r"\boxed{(-2, 1)}", True),
    ("3, 5, 7", r"\boxed{7, 5, 3}", True),
    (r"\text{(C)}", r"\boxed{C}", True),
    (r"\text{Evelyn}", r"\boxed{\text{Evelyn}}", True),
    (r"\text{Evelyn}", r"\boxed{Navin}", False),
    (r"\frac{1}{2}", r"\boxed{\frac{\frac{1}{1}}{2}}", True),  # nested braces
    ("5", r"first \boxed{3}, on reflection \boxed{5}", True),  # the last box counts
    ("5", r"\boxed{5} then a truncated \boxed{\frac{1", True),  # an unclosed box is skipped
    ("5", r"\boxed 5", True),
    ("5", r"\fbox{5}", True),
    ("2", "no number here", False),
    # grader 3: two equations equal only when they agree (Math-Verify 0.9 also when sympy solves neither)
    ("N=n", r"\boxed{N=n+1}", False),
    (r"\frac{d x}{d t}=k x-a", r"\boxed{\frac{dx}{dt}=kx+a}", False),
    (r"\frac{d x}{d t}=k x-a", r"\boxed{\frac{dx}{dt}-kx+a=0}", True),
    ("y = x^2", r"\boxed{x^2 = y}", True),
    # letters some parses leave not real ("v_{o}" with braces) equal the same letters written "v_o"
    (r"\frac{d^{2} v_{o}}{d t^{2}}+\frac{v_{o}}{L C}=\frac{v_{i}}{L C}",
     r"\boxed{\frac{d^2 v_o}{d t^2}+\frac{v_o}{L C}=\frac{v_i}{L C}}", True),
]


@pytest.mark.parametrize("gold, response, correct", GRADES)
def test_grade(gold, response, correct):
    assert grade(gold=gold, response=response).correct is correct


def test_no_answer():
    assert grade(gold="2", response="I do not know.") == Grade(answer=None, correct=False, extraction="none")


# ---- strict and flexible grades: how the answer was found --------------------------------------------------------

POLICIES = [  # gold, response, extraction, flexible, strict (hand-checked)
    # A sample cut off at max_tokens, never stating an answer; its last number happens to be the gold.
    ("18", "Janet sells 16 - 3 - 4 = 9 eggs at $2 each, so 9 * 2 = 18 and then she", "last_number", True, False),
    ("18", r"so she makes $\boxed{18}$ dollars", "boxed", True, True),
    ("18", r"\boxed{19}", "boxed", False, False),
    ("18", "She makes 18 dollars a day.\n#### 18", "marked", True, True),
    ("18", "The answer is 18.", "marked", True, True),
    ("1000", "The final answer: 1,000", "marked", True, True),
    ("18", "So she earns $18 dollars in total", "last_number", True, False),
    ("7", "The answer is not obvious at first. After 3 steps: 7.", "last_number", True, False),
    ("2", "no number here", "none", False, False),
    ("5", r"\boxed{5} then a truncated \boxed{\frac{1", "boxed", True, True),
]


@pytest.mark.parametrize("gold, response, extraction, flexible, strict", POLICIES)
def test_strict_and_flexible_grades(gold, response, extraction, flexible, strict):
    g = grade(gold=gold, response=response)
    assert (g.extraction, g.correct, g.correct_strict) == (extraction, flexible, strict)
    assert g.answer_strict == (g.answer if extraction in ("boxed", "marked") else None)
    assert find_answer(response) == (g.answer, extraction)


CHOICE_POLICIES = [  # gold, response, letter, extraction, flexible, strict (letters ABCDE)
    ("B", r"\boxed{B}", "B", "boxed", True, True),
    ("C", r"\boxed{\text{(C)}}", "C", "boxed", True, True),
    ("C", "A is wrong, so the answer is (C).", "C", "marked", True, True),
    ("B", "Answer: B", "B", "marked", True, True),
    # Re-reading the options, cut off: a letter the sample never chose.
    ("E", "Option A) fails, option E) works", "E", "letter", True, False),
    ("D", "Is it (D)? Let me check (D) against", "D", "letter", True, False),
    ("D", "D", "D", "letter", True, False),
    ("A", "A number like 12.", None, "none", False, False),
    ("A", r"\boxed{B}", "B", "boxed", False, False),
]


@pytest.mark.parametrize("gold, response, letter, extraction, flexible, strict", CHOICE_POLICIES)
def test_strict_and_flexible_choice_grades(gold, response, letter, extraction, flexible, strict):
    g = grade_choice(gold=gold, response=response, letters="ABCDE")
    assert (g.answer, g.extraction, g.correct, g.correct_strict) == (letter, extraction, flexible, strict)
    assert find_choice(response, "ABCDE") == (letter, extraction)


def test_a_grader_that_does_not_say_how_grades_strictly_as_flexibly():
    # A benchmark outside this package may build Grade(answer, correct): its strict grade is its flexible one.
    assert Grade(answer="5", correct=True).correct_strict and Grade(answer="5", correct=True).answer_strict == "5"
    assert not Grade(answer=None, correct=False).correct_strict


def test_strict_vote_classes_leave_out_unmarked_answers():
    from benchmarks.base import Problem
    from testtime.pipeline.samples import grade_texts

    class Bench:
        def grade(self, problem, response):
            return grade(gold=problem.gold, response=response)

    texts = [r"\boxed{4}", "so 2 + 2 = 4 and", r"\boxed{5}", "The answer is 4.", "then 5"]
    grades, ids, strict_ids = grade_texts(Problem(id="p", prompt="q", gold="4"), texts, Bench())
    assert [g.extraction for g in grades] == ["boxed", "last_number", "boxed", "marked", "last_number"]
    assert ids == [0, 0, 1, 0, 1] and strict_ids == [0, -1, 1, 0, -1]
    assert [g.correct for g in grades] == [True, True, False, True, False]
    assert [g.correct_strict for g in grades] == [True, False, False, True, False]


@pytest.mark.parametrize("response, answer", [
    (r"\boxed{ 42 }", "42"),
    (r"\boxed{\frac{a}{b^{2}}}.", r"\frac{a}{b^{2}}"),
    (r"\boxed{\{1, 2\}}", r"\{1, 2\}"),
    (r"\boxed{\$18}", "18"),
    ("The answer is 18.", "18"),
    ("The final answer: $x+1$.", "x+1"),
    ("#### 1,000", "1,000"),
    ("after 3 steps we get 7.", "7"),
    ("The answer is not obvious at first. After 3 steps: 7.", "7"),
    ("The answer is Evelyn.", "Evelyn"),
    ("nothing", None),
])
def test_extract_answer(response, answer):
    assert extract_answer(response) == answer


@pytest.mark.parametrize("response, letter", [
    (r"\boxed{B}", "B"),
    (r"\boxed{(D)}", "D"),
    (r"\boxed{\text{C}}", "C"),
    (r"\boxed{\textbf{(A)}}", "A"),
    ("A is wrong, so the answer is (C).", "C"),
    ("The answer is B", "B"),
    ("Option A) fails, option E) works.", "E"),
    ("D", "D"),
    ("A number like 12.", None),
    (r"\boxed{F}", None),
])
def test_extract_choice(response, letter):
    assert extract_choice(response, "ABCDE") == letter


@pytest.mark.parametrize("gold, response, correct", [
    ("B", r"\boxed{B}", True), ("B", r"\boxed{C}", False), ("D", "the answer is (D)", True),
    ("A", r"\boxed{E}", False),  # E is not an option of a four-choice question
])
def test_grade_choice(gold, response, correct):
    assert grade_choice(gold=gold, response=response, letters="ABCD").correct is correct


@pytest.mark.parametrize("a, b, same", [
    ("1/2", "0.5", True), (r"\frac12", r"\dfrac{1}{2}", True), ("2", "2.0", True), ("1,000", "1000", True),
    ("2", "3", False), (r"\sqrt{8}", r"2\sqrt{2}", True), ("x+1", "1+x", True),
])
def test_equivalent(a, b, same):
    assert equivalent(a, b) is same and equivalent(b, a) is same


def test_group_answers():
    assert group_answers(["1/2", "0.5", r"\frac12", "2", None, "2.0", r"\frac{1}{2}"]) == [0, 0, 0, 1, -1, 1, 0]
    assert group_answers([None, "7", "x", "7"]) == [-1, 0, 1, 0]
    assert group_answers([]) == []


def test_arithmetic_chains_vote_by_their_final_value():
    # Seen in a GSM8K run: Math-Verify called these two equations equivalent, merging unrelated votes.
    assert group_answers(["44 / 3 = 14%", "17 + 18 = 35", "20 + 1 = 12", "12", r"3 \times 4 = 12", "35"]) == [
        0, 1, 2, 2, 2, 1]
    assert grade(gold="4", response="So 2 + 2 = 4").answer == "4"
    assert grade(gold="21", response=r"\boxed{20 + 1 = 21}") == grade(gold="21", response=r"\boxed{21}")
    # Equations with letters on the left are answers in their own right.
    assert grade(gold="y = 2x + 3", response=r"\boxed{y = 2x+3}").answer == "y = 2x+3"
    assert grade(gold="y = 2x + 3", response=r"\boxed{y = 2x+3}").correct


def test_grade_in_worker_thread():
    # Math-Verify's signal timeouts raise outside the main thread; grading must still work there.
    results = []
    thread = threading.Thread(target=lambda: results.append(
        [grade(gold=r"\frac{1}{2}", response=r"\boxed{0.5}").correct, equivalent(r"\sqrt{2}/2", r"\frac{\sqrt2}{2}"),
         grade(gold="1", response=r"\boxed{10^{10^{10}}}").correct]))
    thread.start()
    thread.join(timeout=30)
    assert results == [[True, True, False]]


def test_grade_never_hangs():
    start = time.monotonic()
    assert grade(gold="1", response=r"\boxed{10^{10^{10^{10}}}}").correct is False
    assert time.monotonic() - start < 15


@pytest.mark.parametrize("value, text", [(27.0, "27"), (0.5, "0.5"), (-1.0, "-1"), ("1,000", "1000"), (3159, "3159")])
def test_number_text(value, text):
    assert number_text(value) == text


def test_prompts():
    assert math_prompt("What is 1+1?").endswith(r"Put your final answer within \boxed{}.")
    prompt = choice_prompt("Pick one.", ["red", "blue"], "AB")
    assert "A) red\nB) blue" in prompt and r"\boxed{}" in prompt


# ---- vote classes: the same as comparing each new answer with every class, as before issue 11 ------------------


@functools.lru_cache(maxsize=65536)
def pairwise_verify(gold: str, answer: str) -> bool:
    """grading._verify before issue 11: Math-Verify on every pair that the exact checks leave (two equations also
    checked by _equations_agree since grader 3)."""
    if _key(gold) == _key(answer):
        return True
    gold_number, number = _decimal(gold), _decimal(answer)
    if gold_number is not None and number is not None:
        return gold_number == number
    parsed_gold, parsed = _parse(gold), _parse(answer)
    if not parsed_gold or not parsed:
        return False
    if all(getattr(p[0], "is_Rational", False) for p in (parsed_gold, parsed)):
        return bool(parsed_gold[0] == parsed[0])
    mv, _ = _math_verify()
    same = bool(mv.verify(list(parsed_gold), list(parsed), timeout_seconds=_timeout()))
    if same and _is_equation(parsed_gold[0]) and _is_equation(parsed[0]):
        return _equations_agree(parsed_gold[0], parsed[0])
    return same


def pairwise_group_answers(answers):
    """group_answers before issue 11, the reference: each new distinct answer against every class in turn."""
    class_of_key, representatives, ids = {}, [], []
    for answer in answers:
        if answer is None:
            ids.append(-1)
            continue
        key = _key(_clean(answer))
        if key not in class_of_key:
            a = _clean(answer)
            same = (i for i, rep in enumerate(representatives)
                    if pairwise_verify(_clean(rep), a) or pairwise_verify(a, _clean(rep)))
            match = next(same, None)
            if match is None:
                match = len(representatives)
                representatives.append(answer)
            class_of_key[key] = match
        ids.append(class_of_key[key])
    return ids


TRICKY = [  # surface variants, near-equal floats, and answers that are equal to a third but not to each other
    ["1/2", "0.5", r"\frac12", r"\dfrac{1}{2}", "0.50", r"\frac{2}{4}", "50\\%", "0.5000001", "0.500001", "0.49999"],
    ["18", "18%", "0.18", r"18\%", "18.0", r"\$18", "18 dollars", "x = 18", "y = 18", "18.0000001", "1800%"],
    ["1000", "1,000", "1000.0", "1,000.00", "10^3", r"10^{3}", r"1 \times 10^3", "999.9999999", "1e3"],
    [r"\sqrt{2}", r"\frac{\sqrt{2}}{2}", "1.414214", "1.41421356", r"2^{1/2}", r"\sqrt{8}/2", "0.7071068",
     r"\frac{1}{\sqrt{2}}", "1.4142"],
    [r"\pi", "3.14159265", "3.14", r"\frac{22}{7}", "e", r"\text{e}", "2.718282", "E"],
    ["x = 5", "5", "2x = 10", "x + 1 = 6", "y = 5", "x = 5.0", "5 = x", "x - 5 = 0", "x + 1 = x + 2",
     "42 - x10 = 42 - x10", "y + 1 = y + 3", "x^2 = 25", "x = -5, x = 5"],
    ["x+1", "1+x", "x + 1.0", "(x+1)", "y+1", "x + 2 - 1", r"\frac{2x+2}{2}", "x", r"\text{x}"],
    ["(1, 2)", "(2, 1)", "[1, 2]", "1, 2", r"\{1, 2\}", "2, 1", "(1,2)", r"\left( 1, 2 \right)", "1 and 2"],
    ["Evelyn", r"\text{Evelyn}", r"\text{evelyn}", "Navin", "not possible", r"\text{not possible}", "none"],
    ["-0", "0", "0.0", "-0.0", "+0", "0.000001", "1e-7", "0.0000001"],
    ["44 / 3 = 14%", "17 + 18 = 35", "20 + 1 = 12", "12", r"3 \times 4 = 12", "35", "14", "14%"],
    ["1.5 hours", "90 minutes", "1.5", r"\frac{3}{2}", "3:2", "3/2", "1 1/2", r"1\frac{1}{2}"],
    ["two-thirds of 60, which is 120", "120", "40", "two-thirds of 4, which matches the last solution", "the total "
     "leftover of $11", "11", "to add: 10 + 11 = 21", "21", "T + 2 = 18", "16", "2 ledges * 2 = 4 ledges"],
    # values sharing a real part in one answer (a SmolLM2 sample on GSM8K wrote one): the index kept them apart
    [r"1 \pm \sqrt{-3}", r"1+\sqrt{-3}, 1-\sqrt{-3}", r"\sqrt{-1}, -\sqrt{-1}", "1", r"1+\sqrt{-3}", "i, -i", "2i"],
]


@pytest.mark.parametrize("answers", TRICKY, ids=[t[0] for t in TRICKY])
def test_vote_classes_match_pairwise_on_tricky_answers(answers):
    assert group_answers(answers) == pairwise_group_answers(answers)
    assert group_answers(answers[::-1]) == pairwise_group_answers(answers[::-1])  # the first equivalent class wins


FORMS = [  # one family of values near 2, in the forms Math-Verify treats specially (percent, sets, intervals, ...)
    "2", "2.0", r"\frac{4}{2}", "200\\%", r"2\%", "0.02", "x = 2", "2 = x", "y = 2", "2x = 4", "x - 2 = 0", "x^2 = 4",
    r"\{2\}", "(2)", r"\text{2}", r"\sqrt{4}", "2.0000001", "2.00001", "[2, 3]", "(2, 3)", "2, 3", "3, 2",
    r"2 < x < 3", "x > 2", r"x \in (2, 3)", "x = 2, y = 3", "x + 1 = x + 2", "y = y + 1", "e", r"\text{e}", "E",
    "two", r"\text{two}", "2e", r"2\pi", r"(\sqrt{2})^2", r"\frac{\sqrt{8}}{\sqrt{2}}", r"2^1", "1 + 1 = 2", "2i",
]


def test_skipped_pairs_are_not_equivalent():
    # may_equal may only skip pairs that Math-Verify (in either order) would not call equal.
    from benchmarks.answer_values import may_equal
    from benchmarks.grading import _values

    forms = sorted({_clean(f) for f in FORMS})
    wrong = [(a, b) for i, a in enumerate(forms) for b in forms[i + 1:]
             if _parse(a) and _parse(b) and not may_equal(_values(a), _values(b))
             and (pairwise_verify(a, b) or pairwise_verify(b, a))]
    assert not wrong


@pytest.mark.parametrize("answer", ["0", "-0", "00", "+0", "1", "-1", "042", "+3", "-5", "1,000", "-1,234",
                                    "1,000,000", "123456789012345678901234567890", "2024"])
def test_plain_integers_parse_as_math_verify_parses_them(answer):
    # _parse skips Math-Verify's LaTeX parser for plain integers; it must return exactly what that parser returns.
    from benchmarks.grading import _math_verify

    mv, config = _math_verify()
    slow = tuple(mv.parse(f"\\boxed{{{answer}}}", extraction_config=config, parsing_timeout=5))
    fast = _parse(answer)
    assert [type(x) for x in fast] == [type(x) for x in slow] and fast == slow


def _pools():
    if not VOTE_CLASSES.is_file():
        pytest.skip(f"{VOTE_CLASSES} missing: python scripts/bench_grading.py --write-fixture")
    return json.loads(VOTE_CLASSES.read_text())


@pytest.mark.parametrize("pool", ["stored", "synthetic"])
def test_vote_classes_match_pairwise_on_pools(pool):
    # Reference ids from the pairwise algorithm, recorded by scripts/bench_grading.py: the stored GSM8K pool's as
    # the run stored them, the synthetic n = 256 pool's computed once (minutes, too slow for a unit test).
    problems = _pools()[pool]
    differ = [p["problem_id"] for p in problems if group_answers(p["answers"]) != p["ids"]]
    assert not differ, differ
