"""Minerva Math: the 272 undergraduate science and engineering problems from MIT OpenCourseWare that Minerva was
evaluated on (Lewkowycz et al. 2022, "Solving Quantitative Reasoning Problems with Language Models",
arXiv:2206.14858, "OCWCourses"), as packaged by the Qwen2.5-Math evaluation.

Data: hub "math-ai/minervamath" (split "test"; fields question, answer: the copy lighteval and most 2025 papers
read). Local copy: QwenLM/Qwen2.5-Math @ a45202b, evaluation/data/minerva_math/test.jsonl (problem, solution, type,
idx, plus id and answer: the last \\boxed{} of the solution, Qwen's `extract_answer` rule).
Prompt: the Qwen2.5-Math evaluation's (grading.QWEN_BOXED_PROMPT).
Answers (benchmarks.answer_types): a plain-number gold ("1.6", "4.5e33"; 188 of 272) is a "number": within half
a unit of its last significant digit, at most 5% (the Qwen evaluation: relative 1e-4); the rest (expressions,
equations, differential equations) are compared with Math-Verify. Units: where the solution writes a unit after its
boxed answer that answer_types knows in all its spellings (cm, km/s, years, Angstroms, eV, ...; 97 problems), an
answer stating another unit is wrong; other units ("ergs s^-1", "kcal m^-2 yr^-1") are not checked, an answer's unit
is then dropped, as the Qwen evaluation drops it. Three golds are Python literals, rewritten exactly (`converted`).

Example:
    MinervaMath(data_dir="../shared/data").problems()[0].gold   # "1.6"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from benchmarks.answer_types import KNOWN_UNITS, unit_key, grade_answer, tolerance
from benchmarks.base import Grade, Problem
from benchmarks.data import read_rows
from benchmarks.grading import QWEN_BOXED_PROMPT, box_spans, math_prompt
from testtime.registry import register

CONVERTED = {  # source gold -> (gold used, why)
    "np.arcsin(10/13)": ("\\arcsin\\left(\\frac{10}{13}\\right)", "a NumPy call; the problem asks to leave the "
                         "inverse trigonometric function unevaluated"),
    "-1./3": ("-\\frac{1}{3}", "a Python float literal of the fraction"),
    "-3./2": ("-\\frac{3}{2}", "a Python float literal of the fraction"),
}


def solution_unit(solution: str) -> str:
    """The unit a solution writes right after its last \\boxed{} ("\\boxed{1.6} \\mathrm{~cm}" -> "\\mathrm{~cm}"),
    when answer_types knows it in all its spellings; "" otherwise."""
    spans = box_spans(solution)
    if not spans:
        return ""
    after = solution[spans[-1][1]:].lstrip(" $")
    text = re.split(r"\$|\n|\\\]|\\\\|=|,|\.(?:\s|$)|\\quad|\\end", after, maxsplit=1)[0].strip()
    for candidate in (text, text.split(" ")[0]):
        if candidate and unit_key(candidate) in KNOWN_UNITS:
            return candidate
    return ""


@register("benchmark", "minerva_math")
@dataclass(frozen=True)
class MinervaMath:
    name: ClassVar[str] = "minerva_math"
    answer: ClassVar[str] = "number (to its significant figures) or expression"
    source: ClassVar[str] = "math-ai/minervamath"
    size: ClassVar[int] = 272
    data_dir: str | None = None
    """Folder holding minerva_math/<split>.jsonl; None reads env TESTTIME_DATA_DIR, then the hub."""
    split: str = "test"
    """Only "test" exists."""

    def _rows(self):
        return read_rows(self.name, folder="minerva_math", data_dir=self.data_dir, split=self.split,
                         hub=("math-ai/minervamath", None))

    def problems(self) -> list[Problem]:
        return [self._problem(i, row) for i, row in enumerate(self._rows())]

    excluded: ClassVar[dict[str, str]] = {}
    """None left out."""

    @property
    def converted(self) -> dict[str, str]:
        """Problem id -> how its gold was rewritten from the source's."""
        return {f"{self.name}/{self.split}/{i}": f"{CONVERTED[g][1]}: '{g}' -> '{CONVERTED[g][0]}'"
                for i, row in enumerate(self._rows()) if (g := row.answer("answer")) in CONVERTED}

    def _problem(self, i: int, row) -> Problem:
        source = row.answer("answer")
        gold = CONVERTED[source][0] if source in CONVERTED else source.replace("$", "").strip()
        solution = row.get("solution")
        return Problem(id=f"{self.name}/{self.split}/{i}",
                       prompt=math_prompt(row.text("problem", "question"), QWEN_BOXED_PROMPT), gold=gold,
                       answer_type="number" if tolerance(gold) is not None else "expression",
                       unit=solution_unit(solution) if isinstance(solution, str) else "")

    def grade(self, problem: Problem, response: str) -> Grade:
        return grade_answer(gold=problem.gold, response=response, answer_type=problem.answer_type, unit=problem.unit)
