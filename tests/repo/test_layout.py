"""The tree shows the data flow, and imports follow it one way:

    foundation -> benchmarks -> models -> samplers -> store -> strategies -> run -> analysis -> report -> interface

The folders are the stages (the foundation, models and interface are files of testtime/ itself): the store is
testtime/store/, below strategies/; the run is testtime/pipeline/, above it. A module may import from its own stage
or an earlier one, never a later one. On top of the order: strategies (and their scorers) never import an
engine from `testtime.samplers` (they get engines through the protocols in `testtime.sampler`), and the analyzer and
the reports never open the sample store, `testtime.store.store` (they read results and the per-problem summary
through `testtime.store.records`).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# (stage name, module prefixes); listed in flow order
STAGES = [
    ("foundation", ["testtime.errors", "testtime.registry", "testtime.files", "testtime.sampler", "testtime.config"]),
    ("benchmarks", ["benchmarks"]),
    ("models", ["testtime.models", "testtime.flops"]),
    ("samplers", ["testtime.samplers"]),
    ("store", ["testtime.store"]),
    ("strategies", ["strategies"]),
    ("run", ["testtime.pipeline"]),
    ("analysis", ["testtime.analysis"]),
    ("report", ["testtime.report"]),
    ("interface", ["testtime.cli", "testtime.bench", "testtime.__main__", "testtime.api", "testtime"]),
]
FORBIDDEN = [
    ("strategies", "testtime.samplers", "strategies get engines through testtime.sampler's protocols"),
    ("testtime.analysis", "testtime.store.store", "the analyzer reads results (testtime.store.records)"),
    ("testtime.report", "testtime.store.store", "reports read results (testtime.store.records)"),
]
PACKAGES = ("testtime", "strategies", "benchmarks")


def _matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def stage(module: str) -> tuple[int, str] | None:
    """(order, name) of the stage whose longest prefix matches `module`."""
    best = None
    for order, (name, prefixes) in enumerate(STAGES):
        for prefix in prefixes:
            if _matches(module, prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), order, name)
    return None if best is None else best[1:]


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            rel = path.relative_to(ROOT).with_suffix("")
            out[".".join(rel.parts).removesuffix(".__init__")] = path
    return out


def imports(path: Path, known: dict[str, Path]):
    """Absolute module names imported anywhere in the file (function-level imports too); `from pkg import mod`
    counts as importing pkg.mod when that is a module."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known]
            yield from subs or [node.module]


def test_every_module_has_a_stage():
    missing = [m for m in modules() if stage(m) is None]
    assert not missing, f"no stage in tests/test_layout.py for {missing}"


def test_no_module_imports_a_later_stage():
    known = modules()
    bad = []
    for module, path in known.items():
        mine = stage(module)
        for target in imports(path, known):
            theirs = stage(target)
            if theirs is not None and theirs[0] > mine[0] and target not in ("testtime",):
                bad.append(f"{module} ({mine[1]}) imports {target} ({theirs[1]})")
    assert not bad, bad


def test_forbidden_edges():
    known = modules()
    bad = []
    for module, path in known.items():
        for src, dst, why in FORBIDDEN:
            if _matches(module, src):
                bad += [f"{module} imports {t}: {why}" for t in imports(path, known) if _matches(t, dst)]
    assert not bad, bad


def test_stage_folders_exist():
    # the tree itself shows the stages
    for folder in ("testtime/samplers", "testtime/store", "testtime/pipeline", "testtime/analysis", "testtime/report",
                   "strategies", "strategies/scorers", "benchmarks"):
        assert (ROOT / folder / "__init__.py").is_file(), folder


def test_each_folder_is_one_stage():
    # a subfolder of testtime/ (or of strategies/, benchmarks/) never splits across stages
    known = modules()
    split = [f"{m} ({stage(m)[1]}) in {m.rpartition('.')[0]} ({stage(m.rpartition('.')[0])[1]})"
             for m in known if "." in m and m.rpartition(".")[0] in known and m.rpartition(".")[0] not in PACKAGES
             and stage(m) != stage(m.rpartition(".")[0])]
    assert not split, split
