"""Every benchmark loader on the shared data copies: row counts, hand-checked golds, self-grading, subsets."""

import pytest

import benchmarks
from benchmarks.base import Problem
from tests.helpers import DATA
from testtime.errors import UserError

needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"benchmark data not found at {DATA} (../shared/data)")

# name, rows, first gold (checked by hand against the first line of each file)
EXPECTED = [
    ("gsm8k", 1319, "18"),  # "... #### 18"
    ("math500", 500, r"\left( 3, \frac{\pi}{2} \right)"),
    ("aime24", 30, "204"),
    ("amc23", 40, "27"),  # 27.0
    ("svamp", 1000, "145"),  # 145.0
    ("mmlu_stem", 3018, "C"),  # answer index 2
    ("aqua", 254, "A"),
]


def test_registered():
    assert benchmarks.names("benchmark") == sorted(name for name, _, _ in EXPECTED)


@needs_data
@pytest.mark.parametrize("name, rows, first_gold", EXPECTED)
def test_loader(name, rows, first_gold):
    bench = benchmarks.load(name, data_dir=str(DATA))
    problems = bench.problems()
    assert bench.name == name
    assert len(problems) == rows
    assert problems[0].gold == first_gold
    assert [p.id for p in problems[:2]] == [f"{name}/test/0", f"{name}/test/1"]
    assert len({p.id for p in problems}) == rows
    assert all(p.prompt and p.gold for p in problems)
    assert all(r"\boxed{}" in p.prompt for p in problems)


@needs_data
def test_prompts_and_golds_by_hand():
    aqua = benchmarks.load("aqua", data_dir=str(DATA)).problems()[0]
    assert "\nA) 5(√3 + 1)\n" in aqua.prompt and "E) None of these" in aqua.prompt and aqua.choices == tuple("ABCDE")
    svamp = benchmarks.load("svamp", data_dir=str(DATA)).problems()[0]
    assert "93 groups How big is each group of bananas?" in svamp.prompt
    golds = {p.gold for p in benchmarks.load("gsm8k", data_dir=str(DATA)).problems()}
    assert "1450000" in golds and not any("," in g for g in golds)  # "#### 1,450,000"
    assert benchmarks.load("aime24", data_dir=str(DATA)).problems()[7].gold == "025"


@needs_data
@pytest.mark.parametrize("name", [name for name, _, _ in EXPECTED])
def test_every_gold_grades_as_correct(name):
    # Catches normalisation bugs: each gold, boxed the way the prompt asks, must grade as correct.
    bench = benchmarks.load(name, data_dir=str(DATA))
    wrong = [p.id for p in bench.problems() if not bench.grade(p, f"So the answer is \\boxed{{{p.gold}}}.").correct]
    assert wrong == []


@needs_data
@pytest.mark.parametrize("name", ["gsm8k", "math500", "aime24", "amc23", "svamp"])
def test_every_gold_is_read_by_math_verify(name):
    # The string fast path above hides golds Math-Verify cannot read; a model's differently written answer
    # would then never match. Each gold must parse, equal itself under verify, and differ from gold + 1.
    from benchmarks.grading import _math_verify, _parse

    mv, _ = _math_verify()
    unread = [p.gold for p in benchmarks.load(name, data_dir=str(DATA)).problems()
              if not (_parse(p.gold) and mv.verify(list(_parse(p.gold)), list(_parse(p.gold))))]
    assert unread == []
    numeric = [p for p in benchmarks.load(name, data_dir=str(DATA)).problems() if p.gold.lstrip("-").isdigit()]
    assert all(not benchmarks.grading.grade(gold=p.gold, response=f"\\boxed{{{int(p.gold) + 1}}}").correct
               for p in numeric)


@needs_data
def test_env_data_dir(monkeypatch):
    monkeypatch.setenv("TESTTIME_DATA_DIR", str(DATA))
    assert len(benchmarks.load("amc23").problems()) == 40


def test_missing_data_names_the_path(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match=str(tmp_path / "gsm8k" / "test.jsonl")):
        benchmarks.load("gsm8k", data_dir=str(tmp_path)).problems()


def test_no_data_dir(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("TESTTIME_DATA_DIR", raising=False)
    with pytest.raises(UserError, match="TESTTIME_DATA_DIR"):
        benchmarks.load("svamp").problems()


def test_unknown_benchmark():
    with pytest.raises(UserError, match="gsm8k"):
        benchmarks.load("gsm9k")


PROBLEMS = [Problem(id=f"toy/test/{i}", prompt=f"q{i}", gold=str(i)) for i in range(100)]


def test_select_is_seeded_sized_and_ordered():
    first = benchmarks.select(PROBLEMS, limit=10, seed=0)
    assert first == benchmarks.select(PROBLEMS, limit=10, seed=0)
    assert len(first) == len({p.id for p in first}) == 10
    assert first == sorted(first, key=lambda p: int(p.gold))
    assert first != benchmarks.select(PROBLEMS, limit=10, seed=1)
    assert benchmarks.select(PROBLEMS, limit=None) == PROBLEMS
    assert benchmarks.select(PROBLEMS, limit=500) == PROBLEMS
    with pytest.raises(UserError):
        benchmarks.select(PROBLEMS, limit=0)
