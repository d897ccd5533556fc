"""Grading against known answers: extraction, Math-Verify equivalence, choice letters, answer classes."""

import threading
import time

import pytest

from benchmarks.base import Grade
from benchmarks.grading import (choice_prompt, equivalent, extract_answer, extract_choice, grade, grade_choice,
                                group_answers, math_prompt, number_text)

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
]


@pytest.mark.parametrize("gold, response, correct", GRADES)
def test_grade(gold, response, correct):
    assert grade(gold=gold, response=response).correct is correct


def test_no_answer():
    assert grade(gold="2", response="I do not know.") == Grade(answer=None, correct=False)


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
