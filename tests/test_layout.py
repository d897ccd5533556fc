"""Data flows one way: benchmark -> sampler -> grader/scorers -> store -> strategies -> analyzer -> report.
A module may import from its own stage or earlier ones, never from a later one."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# stage of each module (by dotted prefix); later stages may import earlier ones
STAGES = [
    ("testtime", 0), ("testtime.errors", 0), ("testtime.registry", 0), ("testtime.config", 0), ("testtime.sampler", 0),
    ("benchmarks", 1),
    ("testtime.models", 2), ("testtime.flops", 2), ("testtime.samplers", 2),
    ("testtime.pool", 3), ("testtime.store", 3),
    ("testtime.estimators", 4), ("strategies", 4),
    ("testtime.evaluate", 5), ("testtime.curves", 5), ("testtime.laws", 5), ("testtime.catalog", 5),
    ("testtime.analyze", 6),
    ("testtime.report", 7), ("testtime.plots", 7), ("testtime.report_html", 7), ("testtime.report_analysis", 7),
    ("testtime.runner", 8), ("testtime.bench", 8), ("testtime.cli", 9), ("testtime.__main__", 9),
]


def stage(module: str) -> int | None:
    best = None
    for prefix, s in STAGES:
        if module == prefix or (prefix != "testtime" and module.startswith(prefix + ".")):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, s)
    return None if best is None else best[1]


def imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_no_module_imports_a_later_stage():
    bad = []
    for pkg in ("testtime", "strategies", "benchmarks"):
        for path in (ROOT / pkg).rglob("*.py"):
            rel = path.relative_to(ROOT).with_suffix("")
            module = ".".join(rel.parts).removesuffix(".__init__")
            mine = stage(module)
            assert mine is not None, f"{module} has no stage in tests/test_layout.py"
            for target in imports(path):
                theirs = stage(target)
                if theirs is not None and theirs > mine:
                    bad.append(f"{module} imports {target}")
    assert not bad, bad
