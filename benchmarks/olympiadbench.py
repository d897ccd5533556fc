"""OlympiadBench: the 675 English, text-only, open-ended math competition problems (OE_TO_maths_en_COMP) of
He et al. 2024, "OlympiadBench: A Challenging Benchmark for Promoting AGI with Olympiad-Level Bilingual Multimodal
Scientific Problems" (arXiv:2402.14008); 658 are graded, 17 left out (`excluded`, with the reason for each).

Data: hub "Hothan/OlympiadBench", config "OE_TO_maths_en_COMP" (split "train"; fields id, question, solution,
final_answer (a list), is_multiple_answer, unit, answer_type, error, subfield, ..., as lighteval's olympiad_bench
task reads them). Local copy: the Qwen2.5-Math evaluation's (../shared/data/SOURCES-2025.md), the same fields plus
problem and answer. The gold is final_answer[0] without its "$" signs ("69$,$84" is the list 69, 84).
Prompt: the Qwen2.5-Math evaluation's (grading.QWEN_BOXED_PROMPT), which most 2025 papers report OlympiadBench with.
Answers (benchmarks.answer_types): is_multiple_answer -> "list" (any order, as OlympiadBench's own judger pairs
them); otherwise Math-Verify ("expression": numbers, expressions, tuples, intervals, equations); `unit` (8 rows) ->
Problem.unit, so "45 hours" for 45 minutes is wrong. The `error` field (one row, 2592: 1e-1, "to one decimal
place") is not a tolerance here: OlympiadBench's judger would also pass 4.3 for 4.2.

Example:
    bench = OlympiadBench(data_dir="../shared/data")
    len(bench.problems()), len(bench.excluded)   # 658, 17
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from benchmarks.answer_types import grade_answer
from benchmarks.base import Grade, Problem
from benchmarks.data import read_rows
from benchmarks.grading import QWEN_BOXED_PROMPT, math_prompt
from testtime.registry import register

RELAY = ("relay problem: T is the answer to the previous problem of the ARML relay (\"Let T = TNYWR\"), which this "
         "problem does not state")
LEFT_OUT = {  # source id -> why it cannot be graded fairly
    "1965": "the answer is a family of functions described in words (f(x) = ax + b with b any integer and a any "
            "positive integer with \\mho(a) = 0), which no equivalence checker compares",
}
CONVERTED = {  # source id -> (gold used, why); each checked against the row's own solution
    "1760": ("90^{\\circ}, 90^{\\circ}", "final answer '\\angle B E A_{1}=90$,$\\angle A E B_{1}=90' names the two "
             "angles asked for; the solution ends with both equal to 90^{\\circ}"),
    "2045": ("(0,4]", "final answer 't(0,4]' is 't \\in (0,4]' without its \\in"),
    "2498": ("\\frac{1}{2} \\sqrt{x}", "final answer '\\frac{1}{2},\\sqrt{x}' splits y = \\frac{1}{2} \\sqrt{x}, the "
             "solution's last line, at a comma"),
}


@register("benchmark", "olympiadbench")
@dataclass(frozen=True)
class OlympiadBench:
    name: ClassVar[str] = "olympiadbench"
    answer: ClassVar[str] = "number, expression, tuple, interval; lists (94); units (8)"
    source: ClassVar[str] = "Hothan/OlympiadBench (OE_TO_maths_en_COMP)"
    size: ClassVar[int] = 675
    data_dir: str | None = None
    """Folder holding olympiadbench/<split>.jsonl; None reads env TESTTIME_DATA_DIR, then the hub."""
    split: str = "test"
    """Only "test" exists (the hub's one split, "train")."""

    def _rows(self):
        return read_rows(self.name, folder="olympiadbench", data_dir=self.data_dir, split=self.split,
                         hub=("Hothan/OlympiadBench", "OE_TO_maths_en_COMP", "train"))

    def problems(self) -> list[Problem]:
        left_out = self.excluded
        return [self._problem(i, row) for i, row in enumerate(self._rows())
                if f"{self.name}/{self.split}/{i}" not in left_out]

    @property
    def excluded(self) -> dict[str, str]:
        """Problem id -> why it is left out (relay problems, answers in words)."""
        out = {}
        for i, row in enumerate(self._rows()):
            source = str(row.get("id", ""))
            why = RELAY if "TNYWR" in row.text("question", "problem").replace(" ", "") else LEFT_OUT.get(source)
            if why:
                out[f"{self.name}/{self.split}/{i}"] = f"{why} (source id {source})"
        return out

    @property
    def converted(self) -> dict[str, str]:
        """Problem id -> how its gold was rewritten from the source's (exactly; the source's form cannot be read)."""
        return {f"{self.name}/{self.split}/{i}": f"{CONVERTED[s][1]} -> '{CONVERTED[s][0]}'"
                for i, row in enumerate(self._rows()) if (s := str(row.get("id", ""))) in CONVERTED}

    def _problem(self, i: int, row) -> Problem:
        source = str(row.get("id", ""))
        finals = row["final_answer"]
        raw = finals[0] if isinstance(finals, list) and finals else row.answer("answer")
        gold = CONVERTED[source][0] if source in CONVERTED else row.gold("final_answer", str(raw).replace("$", ""))
        multiple = bool(row.get("is_multiple_answer")) or source in CONVERTED and "," in gold
        unit = "" if source in CONVERTED else (row.get("unit") or "").replace("$", "").strip()
        return Problem(id=f"{self.name}/{self.split}/{i}",
                       prompt=math_prompt(row.text("question", "problem"), QWEN_BOXED_PROMPT),
                       gold=gold.strip().rstrip(".").strip(), answer_type="list" if multiple else "expression",
                       unit=unit)

    def grade(self, problem: Problem, response: str) -> Grade:
        return grade_answer(gold=problem.gold, response=response, answer_type=problem.answer_type, unit=problem.unit)
