"""SVAMP: 1,000 one-step and two-step arithmetic word problems with varied structure (Patel et al. 2021,
"Are NLP Models really able to Solve Simple Math Word Problems?", arXiv:2103.07191).

Data: arkilpatel/SVAMP, SVAMP.json (hub: "ChilleD/SVAMP", whose "test" split holds 300 of the 1,000). The
question is `Body` + " " + `Question`; `Answer` is a float, written as an integer when it is one ("145").

Example:
    SVAMP(data_dir="../shared/data").problems()[0].gold   # "145"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from benchmarks.data import read_rows
from benchmarks.base import Grade, Problem
from benchmarks.grading import grade, math_prompt, number_text
from testtime.registry import register


@register("benchmark", "svamp")
@dataclass(frozen=True)
class SVAMP:
    name: ClassVar[str] = "svamp"
    answer: ClassVar[str] = "number"
    source: ClassVar[str] = "ChilleD/SVAMP (300 of the 1,000 on the hub)"
    size: ClassVar[int] = 1000
    data_dir: str | None = None
    """Folder holding svamp/<split>.jsonl; None reads env TESTTIME_DATA_DIR, then the hub."""
    split: str = "test"
    """"test" (all 1,000 problems in the local copy)."""

    def problems(self) -> list[Problem]:
        rows = read_rows(self.name, folder="svamp", data_dir=self.data_dir, split=self.split,
                         hub=("ChilleD/SVAMP", None))
        return [Problem(id=f"{self.name}/{self.split}/{i}",
                        prompt=math_prompt(f"{row.text('Body').strip()} {row.text('Question').strip()}"),
                        gold=number_text(row.answer("Answer"))) for i, row in enumerate(rows)]

    def grade(self, problem: Problem, response: str) -> Grade:
        return grade(gold=problem.gold, response=response)
