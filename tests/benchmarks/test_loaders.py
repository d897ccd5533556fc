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
    ("aime25", 30, "70"),  # 2025-I-1
    ("hmmt_feb25", 30, "103"),
    ("brumo25", 30, "2^{99}"),
    ("olympiadbench", 658, "2"),  # 675 rows, 17 left out
    ("minerva_math", 272, "1.6"),
]
HUB_ONLY = ["aime26", "beyond_aime", "gpqa_diamond", "hmmt_feb26", "omni_math"]   # tests/benchmarks/test_hub.py


def test_registered():
    assert benchmarks.names("benchmark") == sorted([name for name, _, _ in EXPECTED] + HUB_ONLY)


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
    hmmt = benchmarks.load("hmmt_feb25", data_dir=str(DATA)).problems()
    assert [p.id for p in hmmt if p.answer_type == "list"] == ["hmmt_feb25/test/9"]   # problem 10: two values
    brumo = benchmarks.load("brumo25", data_dir=str(DATA)).problems()
    assert [p.id for p in brumo if p.answer_type == "list"] == ["brumo25/test/22"]   # problem 23: four roots
    aime = benchmarks.load("aime25", data_dir=str(DATA)).problems()[0]
    assert aime.prompt.startswith("Put your final answer within \\boxed{}.\nThe answer is an integer between 0 and 999")
    assert aime.prompt.endswith("Find the sum of all integer bases $b>9$ for which $17_b$ is a divisor of $97_b.$")


@needs_data
def test_olympiadbench_by_hand():
    bench = benchmarks.load("olympiadbench", data_dir=str(DATA))
    problems = {p.id: p for p in bench.problems()}
    assert len(problems) == 658 and len(bench.excluded) == 17
    relay = [pid for pid, why in bench.excluded.items() if "TNYWR" in why]
    assert len(relay) == 16 and not set(relay) & set(problems)   # left out, never silently kept
    assert "source id 1965" in bench.excluded["olympiadbench/test/73"]   # a family of functions in words
    assert sum(p.answer_type == "list" for p in problems.values()) == 94   # 1965 left out, 1760 converted to one
    assert problems["olympiadbench/test/31"].gold == "90^{\\circ}, 90^{\\circ}"   # source 1760, converted
    assert set(bench.converted) == {"olympiadbench/test/31", "olympiadbench/test/96", "olympiadbench/test/267"}
    units = {p.id: p.unit for p in problems.values() if p.unit}
    assert sorted(units.values()) == ["%", "cm^2", "km", "km/h", "min", "minute", "minutes"]
    assert problems["olympiadbench/test/0"].prompt.endswith(
        "\nPlease reason step by step, and put your final answer within \\boxed{}.")


@needs_data
def test_minerva_by_hand():
    bench = benchmarks.load("minerva_math", data_dir=str(DATA))
    problems = bench.problems()
    assert (problems[0].gold, problems[0].answer_type, problems[0].unit) == ("1.6", "number", "\\mathrm{~cm}")
    assert problems[5].gold == "\\arcsin\\left(\\frac{10}{13}\\right)"   # source: np.arcsin(10/13)
    assert problems[38].gold == "-\\frac{1}{3}" and problems[49].gold == "-\\frac{3}{2}"   # "-1./3", "-3./2"
    assert sum(p.answer_type == "number" for p in problems) == 188
    assert problems[12].answer_type == "expression" and problems[7].unit == "parsecs"
    assert not bench.excluded and len(bench.converted) == 3


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


def test_select_first_and_ids():
    assert benchmarks.select(PROBLEMS, limit=3, first=True) == PROBLEMS[:3]
    assert benchmarks.select(PROBLEMS, limit=3, first=True) != benchmarks.select(PROBLEMS, limit=3, seed=0)
    ids = ["toy/test/50", "toy/test/7", "toy/test/8"]
    assert [p.id for p in benchmarks.select(PROBLEMS, limit=None, ids=ids)] == ["toy/test/7", "toy/test/8",
                                                                                "toy/test/50"]   # file order
    assert [p.id for p in benchmarks.select(PROBLEMS, limit=2, first=True, ids=ids)] == ["toy/test/7", "toy/test/8"]
    with pytest.raises(UserError, match="'toy/test/500' is not a problem of the benchmark.*toy/test/0.*1 more"):
        benchmarks.select(PROBLEMS, limit=None, ids=["toy/test/500", "nope"])
    with pytest.raises(UserError, match="left out of the benchmark: relay"):
        benchmarks.select(PROBLEMS, limit=None, ids=["toy/test/500"], excluded={"toy/test/500": "relay"})


def test_read_ids(tmp_path):
    from benchmarks.data import read_ids

    path = tmp_path / "ids.txt"
    path.write_text("aime25/test/3\n\n# the hard ones\naime25/test/14  # and this\n")
    assert read_ids(str(path)) == ("aime25/test/3", "aime25/test/14")
    path.write_text("# nothing\n")
    with pytest.raises(UserError, match="names no problems"):
        read_ids(str(path))
    with pytest.raises(UserError, match="not found"):
        read_ids(str(tmp_path / "none.txt"))


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
