"""The hub loaders without a network: a stand-in `datasets` module serves tests/data/hub (a few made-up rows in each
source's schema, see its README.md), so each loader's repository, config, split and field mapping are checked."""

import importlib.machinery
import json
import sys
import types

import pytest

import benchmarks
from benchmarks import data
from benchmarks.gpqa_diamond import option_order
from tests.helpers import TESTS
from testtime.errors import UserError

HUB = TESTS / "data" / "hub"


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """`datasets.load_dataset` reading tests/data/hub; records what each loader asked for."""
    asked = []

    def load_dataset(repository, config=None, split=None):
        asked.append((repository, config, split))
        path = HUB / repository.replace("/", "__") / (config or "default") / f"{split}.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"no split {split!r} of {repository} ({config})")
        return [json.loads(line) for line in path.read_text().splitlines()]

    fake = types.ModuleType("datasets")
    fake.__spec__ = importlib.machinery.ModuleSpec("datasets", None)
    fake.load_dataset = load_dataset
    monkeypatch.setitem(sys.modules, "datasets", fake)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TESTTIME_DATA_DIR", raising=False)
    data._read_hub.cache_clear()
    yield asked
    data._read_hub.cache_clear()


# name, (repository, config, split) asked, problems, first gold, answer types, left out
EXPECTED = [
    ("aime25", ("MathArena/aime_2025", None, "train"), 2, "24", {"integer"}, 0),
    ("aime26", ("MathArena/aime_2026", None, "train"), 2, "7", {"integer"}, 0),
    ("hmmt_feb25", ("MathArena/hmmt_feb_2025", None, "train"), 2, r"\frac{5}{6}", {"expression", "list"}, 0),
    ("hmmt_feb26", ("MathArena/hmmt_feb_2026", None, "train"), 1, r"2\sqrt{2}", {"expression"}, 0),
    ("brumo25", ("MathArena/brumo_2025", None, "train"), 2, "1024", {"expression", "list"}, 0),
    ("olympiadbench", ("Hothan/OlympiadBench", "OE_TO_maths_en_COMP", "train"), 3, "2", {"expression", "list"}, 1),
    ("minerva_math", ("math-ai/minervamath", None, "test"), 2, "9.46e17", {"number", "expression"}, 0),
    ("omni_math", ("KbsdJames/Omni-MATH", None, "test"), 2, "12", {"expression", "list"}, 1),
    ("beyond_aime", ("ByteDance-Seed/BeyondAIME", None, "test"), 2, "123", {"integer"}, 0),
    ("gpqa_diamond", ("Idavidrein/gpqa", "gpqa_diamond", "train"), 2, None, {""}, 0),
]


@pytest.mark.parametrize("name, asked, count, first_gold, types_, left_out", EXPECTED, ids=[e[0] for e in EXPECTED])
def test_hub_loader(hub, tmp_path, name, asked, count, first_gold, types_, left_out):
    bench = benchmarks.load(name, data_dir=str(tmp_path))   # no local copy there: the hub
    problems = bench.problems()
    assert hub[0] == asked
    assert len(problems) == count and {p.answer_type for p in problems} == types_
    assert len(getattr(bench, "excluded", {}) or {}) == left_out
    if first_gold is not None:
        assert problems[0].gold == first_gold
    assert all(r"\boxed{}" in p.prompt or "Answer: $LETTER" in p.prompt for p in problems)
    for p in problems:   # every gold grades correct through the benchmark's own grader
        answer = f"Answer: {p.gold}" if p.choices else f"\\boxed{{{p.gold}}}"
        assert bench.grade(p, answer).correct, (p.id, p.gold)


def test_hub_fields_by_hand(hub, tmp_path):
    olympiad = {p.id: p for p in benchmarks.load("olympiadbench", data_dir=str(tmp_path)).problems()}
    assert olympiad["olympiadbench/test/2"].gold == "3,-3" and olympiad["olympiadbench/test/2"].answer_type == "list"
    assert olympiad["olympiadbench/test/3"].unit == "minutes"   # the `unit` field
    assert "olympiadbench/test/1" not in olympiad   # "Let T = TNYWR": a relay problem
    omni = benchmarks.load("omni_math", data_dir=str(tmp_path))
    assert list(omni.excluded) == ["omni_math/test/1"] and "All odd" in omni.excluded["omni_math/test/1"]
    hmmt = benchmarks.load("hmmt_feb25", data_dir=str(tmp_path)).problems()
    assert hmmt[1].answer_type == "list" and hmmt[0].prompt.startswith(r"Put your final answer within \boxed{}.")


def test_gpqa_options_are_shuffled_by_a_seed_per_problem(hub, tmp_path):
    problems = benchmarks.load("gpqa_diamond", data_dir=str(tmp_path)).problems()
    for p, record, correct in zip(problems, ["recMadeUp0001", "recMadeUp0002"], ["Argon", "newton"]):
        order = option_order(record)
        assert sorted(order) == [0, 1, 2, 3] and p.gold == "ABCD"[order.index(0)]
        assert f"\n{p.gold}) {correct}\n" in p.prompt + "\n"   # the gold letter is the correct answer's
        assert p.choices == tuple("ABCD")
    assert option_order("recMadeUp0001") == option_order("recMadeUp0001")   # the same on every run
    orders = {tuple(option_order(f"rec{i}")) for i in range(50)}
    assert len(orders) > 10   # not one fixed order
    assert {o.index(0) for o in orders} == {0, 1, 2, 3}   # the correct answer is not always A
    bench = benchmarks.load("gpqa_diamond", data_dir=str(tmp_path))
    wrong = "ABCD"[(("ABCD".index(problems[0].gold)) + 1) % 4]
    assert bench.grade(problems[0], f"... so\nAnswer: {problems[0].gold}").correct
    assert not bench.grade(problems[0], f"... so\nAnswer: {wrong}").correct


def test_no_gpqa_copy_in_the_repository():
    """GPQA's authors ask that it not be redistributed: the only GPQA rows here are the made-up fixture's."""
    import subprocess

    from tests.helpers import ROOT

    rows = (HUB / "Idavidrein__gpqa" / "gpqa_diamond" / "train.jsonl").read_text().splitlines()
    assert all(json.loads(r)["Record ID"].startswith("recMadeUp") for r in rows)
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    files = [f for f in tracked.stdout.splitlines() if "gpqa" in f.lower() and not f.endswith((".py", ".md"))]
    assert files == ["tests/data/hub/Idavidrein__gpqa/gpqa_diamond/train.jsonl"]


def test_hub_errors_are_one_line(hub, tmp_path, monkeypatch):
    def refused(repository, config=None, split=None):
        raise ConnectionError("Couldn't reach 'Idavidrein/gpqa' on the Hub (GatedRepoError)\nmore lines")

    monkeypatch.setattr(sys.modules["datasets"], "load_dataset", refused)
    with pytest.raises(UserError, match=r"gated set: accept its terms.*HF_TOKEN") as e:
        benchmarks.load("gpqa_diamond", data_dir=str(tmp_path)).problems()
    assert "\n" not in str(e.value)


def test_offline_hub_is_not_tried(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="aime26/test.jsonl not found"):
        benchmarks.load("aime26", data_dir=str(tmp_path)).problems()
    assert hub == []
