"""MathArena's final-answer competitions (AIME, HMMT February, BRUMO): their rows, prompts and answer types.

MathArena (Balunović et al. 2025, "MathArena: Evaluating LLMs on Uncontaminated Math Competitions",
arXiv:2505.23281) publishes each competition as a hub set "MathArena/<competition>" with one "train" split and the
fields problem_idx (int), problem (LaTeX), answer (an int for AIME, LaTeX text otherwise) and, for some,
problem_type (a list); the local copies (../shared/data/SOURCES-2025.md) name the index `id`. Prompts are
MathArena's own (grading.MATHARENA_PROMPT, MATHARENA_AIME_PROMPT). A gold that holds several answers (HMMT February
2025 problem 10, "\\frac{-1+\\sqrt{17}}{2}, \\frac{-1-\\sqrt{17}}{2}") is a "list", graded in any order.

Example:
    problems(AIME25(data_dir="../shared/data"), folder="aime25", hub="MathArena/aime_2025",
             template=MATHARENA_AIME_PROMPT, answer_type="integer")[0].gold   # "70"
"""

from __future__ import annotations

from benchmarks.answer_types import split_items
from benchmarks.base import Problem
from benchmarks.data import read_rows
from benchmarks.grading import math_prompt


def problems(bench, *, folder: str, hub: str, template: str, answer_type: str = "expression") -> list[Problem]:
    """The problems of a MathArena competition `bench` (its name, data_dir and split), local copy or hub."""
    rows = read_rows(bench.name, folder=folder, data_dir=bench.data_dir, split=bench.split, hub=(hub, None, "train"))
    out = []
    for i, row in enumerate(rows):
        gold = row.answer("answer")
        kind = "list" if answer_type == "expression" and len(split_items(gold)) > 1 else answer_type
        out.append(Problem(id=f"{bench.name}/{bench.split}/{i}", prompt=math_prompt(row.text("problem"), template),
                           gold=gold, answer_type=kind))
    return out
