"""The gold audit: every benchmark here grades each gold, written as a model would, correct and each near miss
wrong (100% self-consistent, or the exception listed with its reason in benchmarks.audit.KNOWN); the near misses
by hand; and an audit that fails when the grader is too lenient or too strict."""

from dataclasses import dataclass
from typing import ClassVar

import pytest

import benchmarks
from benchmarks.audit import KNOWN, RIGHT, audit, dropped_term, last_digit_up, near_misses, negated, off_by_one
from benchmarks.base import Grade, Problem
from benchmarks.grading import grade
from tests.helpers import DATA, cli_in_process

needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"benchmark data not found at {DATA} (../shared/data)")
LOCAL = ["aime24", "aime25", "amc23", "aqua", "brumo25", "gsm8k", "hmmt_feb25", "math500", "minerva_math",
         "mmlu_stem", "olympiadbench", "svamp"]


@needs_data
@pytest.mark.parametrize("name", LOCAL)
def test_every_benchmark_is_self_consistent(name):
    result = audit(benchmarks.load(name, data_dir=str(DATA)))
    assert [(c.problem_id, c.kind, c.response) for c in result.failures] == []
    assert result.consistent == result.problems - len({c.problem_id for c, _ in result.known})
    assert result.checks["boxed" if name not in ("aqua", "mmlu_stem") else "letter"][0] == result.problems
    assert all(kind in result.checks for kind in ("in words", "off by one" if name not in ("aqua", "mmlu_stem")
                                                  else "another option"))


def test_known_exceptions_have_reasons():
    assert all(why.strip() for why in KNOWN.values())


@pytest.mark.parametrize("gold, bumped", [("1.6", "1.7"), ("4.5e33", "4.6e33"), ("6630", "6640"), ("100", "200"),
                                          ("0.10", "0.11"), ("15625", "15626"), ("-0.875", "-0.876"), ("9.9", "9.8")])
def test_last_digit_up(gold, bumped):
    assert last_digit_up(gold) == bumped


def test_near_misses_by_hand():
    assert off_by_one(r"\frac{1}{576}") == r"\frac{2}{576}" and off_by_one("m") == "m+1"
    assert negated("-7") == "7" and negated("0") is None and negated("3") == "-3"
    assert negated(r"y^{\prime}+r y-r x(t)=0") == r"y^{\prime}+r y+r x(t)=0"   # -(0) would change nothing
    assert negated(r"(-\frac{1}{2}, \frac{7}{2})") == r"(\frac{1}{2}, \frac{7}{2})"   # a tuple's first entry
    assert negated("(0,4]") == "(0, -4]"
    assert dropped_term(r"14+4\sqrt{37}") == "14" and dropped_term("2^{99}") is None
    assert dropped_term("1e-5") is None and dropped_term(r"x / 2-1 / 4+c e^{-2 x}") == "x / 2-1 / 4"
    p = Problem(id="t/0", prompt="", gold="45", unit="minutes")
    assert ("wrong unit", r"\boxed{45 \text{ hours}}") in near_misses(p)


@dataclass(frozen=True)
class Toy:
    """A benchmark of three problems whose grader can be made too lenient or too strict."""
    name: ClassVar[str] = "toy"
    rule: str = "right"

    def problems(self):
        return [Problem(id=f"toy/test/{i}", prompt="", gold=g) for i, g in enumerate(["12", r"\frac{1}{2}", "-3"])]

    def grade(self, problem, response):
        if self.rule == "lenient":   # anything boxed is right
            return Grade(answer="x", correct="boxed" in response, extraction="boxed")
        if self.rule == "strict":   # only the gold's exact text in a box
            return Grade(answer="x", correct=f"\\boxed{{{problem.gold}}}" in response, extraction="boxed")
        return grade(gold=problem.gold, response=response)


def test_the_audit_can_fail():
    assert not audit(Toy()).failures and audit(Toy()).consistent == 3
    lenient = audit(Toy("lenient"))
    assert lenient.consistent == 0 and {c.kind for c in lenient.failures} >= {"off by one", "wrong sign"}
    strict = audit(Toy("strict"))
    assert {c.kind for c in strict.failures} == {"in words", "rewritten"}
    assert all(c.kind in RIGHT for c in strict.failures)


@needs_data
def test_audit_gold_command():
    res = cli_in_process("audit-gold", "--benchmark", "aime25,hmmt_feb25", "--data-dir", DATA)
    assert res.returncode == 0, res.stderr
    assert "aime25: 30/30 problems self-consistent (100.0%)" in res.stdout
    assert "hmmt_feb25: 30/30" in res.stdout and "boxes in a row" in res.stdout
    res = cli_in_process("audit-gold", "--benchmark", "olympiadbench", "--data-dir", DATA)
    assert res.returncode == 0 and "17 left out" in res.stdout and res.stdout.count("left out: ") == 17
    assert "3 golds converted" in res.stdout and "TNYWR" in res.stdout


def test_audit_gold_bad_input(tmp_path):
    res = cli_in_process("audit-gold", "--benchmark", "gsm9k", "--data-dir", tmp_path)
    assert res.returncode == 2 and "unknown benchmark 'gsm9k'" in res.stderr
    res = cli_in_process("audit-gold", "--data-dir", tmp_path)
    assert res.returncode == 2 and "no benchmark data" in res.stderr
