"""An analysis as readable tables for the terminal and the HTML report. The sections themselves (one function each,
their titles and formatting) live in the analysis stage, `testtime.analysis.sections`, so that an `Analysis` can
render itself (`rich.print(result)`); this module is the report's name for them.

Example:
    result = analyze(["runs/a", "runs/b"], compare=True)
    for table in analysis_tables(result, omit=("results",)): console.print(table)
"""

from __future__ import annotations

from typing import Sequence

from rich.table import Table

from testtime.analysis import Analysis
from testtime.analysis.sections import SECTIONS, TITLES, fmt_num, rich_tables, sections

__all__ = ["analysis_tables", "sections", "SECTIONS", "TITLES", "fmt_num"]


def analysis_tables(analysis: Analysis, omit: Sequence[str] = ()) -> list[Table]:
    """The warnings first (no or few shared problems), then one rich Table per section (but those named in `omit`),
    then the notes (catalog gaps, series that could not be fitted)."""
    return rich_tables(analysis, omit)
