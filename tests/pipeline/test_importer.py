"""Importing other tools' samples (issue 26): lm-evaluation-harness logs with repeats, lighteval details and
NeMo-Skills output-rs*.jsonl (fixtures in tests/data/imports, README.md there says where each format comes from) make
run directories graded by testtime's grader with the tool's grade beside it, tokens and FLOPs where the model is known
and missing otherwise, which `analyze` reads; bad input is one line and leaves nothing."""

import json

import numpy as np
import pandas as pd
import pytest

from tests.helpers import TESTS, cli_in_process, one_line_error
from testtime.store.store import Store

DATA = TESTS / "data" / "imports"
LM_EVAL = DATA / "lm-eval" / "HuggingFaceTB__SmolLM2-135M-Instruct"


def imported(tmp_path, fmt, path, *extra, name="r"):
    res = cli_in_process("import", fmt, path, "--output-dir", tmp_path, "--name", name, *extra)
    assert res.returncode == 0, res.stderr
    run = tmp_path / name
    return run, json.loads((run / "manifest.json").read_text()), Store(run).table().to_pandas()


def test_lm_eval_samples_with_repeats(tmp_path):
    run, manifest, df = imported(tmp_path, "lm-eval", LM_EVAL)
    rows = [json.loads(line) for line in next(LM_EVAL.glob("samples_*.jsonl")).read_text().splitlines()]
    assert len(rows) == 6   # 3 documents x 2 filters: one pool of 3 x 4
    assert df.groupby("problem_id").size().tolist() == [4, 4, 4]
    first = df[df["problem_id"] == "gsm8k/lm-eval/0"].sort_values("sample_index")
    assert first["text"].tolist() == rows[0]["resps"][0]
    # testtime's grades: "70" is wrong, the other three say 72 (one as "#### 72"): the answer the text gives
    assert first["correct"].tolist() == [True, True, False, True]
    assert first["answer_id"].tolist() == [0, 0, 1, 0]
    assert first["original_grade"].tolist() == [1.0] * 4   # lm-eval's per-document exact_match (score-first)
    assert manifest["imported"]["original_metric"] == "exact_match,score-first"
    assert manifest["imported"]["model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert manifest["imported"]["tokens"] == "tokenizer" and manifest["imported"]["flops"] == "model facts"
    from testtime import models
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(models.resolve("smollm2-135m")))
    assert first["output_tokens"].tolist() == [len(tok.encode(t, add_special_tokens=False)) for t in first["text"]]
    assert (df["decode_flops"] > 0).all() and (df["prefill_flops"] > 0).all()
    results = json.loads((run / "results.json").read_text())["rows"]
    assert {r["strategy"] for r in results} == {"majority_vote", "pass_at_k"}
    pass4 = next(r for r in results if r["strategy"] == "pass_at_k" and r["n"] == 4)
    assert pass4["accuracy"] == pytest.approx(1.0)   # every document has a correct sample


def test_lighteval_details_tokens_from_the_log_flops_missing(tmp_path):
    run, manifest, df = imported(tmp_path, "lighteval", DATA / "lighteval")
    assert manifest["config"]["benchmark"] == "math500"   # from the task name lighteval|math_500|0
    assert manifest["imported"]["model"] == "some-org/unknown-model"
    assert manifest["imported"]["tokens"] == "the log" and manifest["imported"]["flops"] == "missing"
    one = df[df["problem_id"] == "math500/lighteval/0"].sort_values("sample_index")
    assert one["correct"].tolist() == [True, False, True]   # 5/6 is \frac{5}{6}: math-verify's equivalence
    assert one["output_tokens"].tolist() == [len(t.split()) for t in one["text"]]
    assert df["decode_flops"].isna().all()
    results = json.loads((run / "results.json").read_text())["rows"]
    assert all(np.isnan(r["flops_per_problem"]) for r in results)   # missing, not 0


def test_nemo_skills_outputs_one_file_per_seed(tmp_path):
    run, manifest, df = imported(tmp_path, "nemo-skills", DATA / "nemo-skills" / "aime24")
    assert manifest["config"]["benchmark"] == "aime24" and manifest["config"]["sampling"]["n"] == 3
    one = df[df["problem_id"] == "aime24/nemo-skills/aime24-1"].sort_values("sample_index")
    assert one["correct"].tolist() == [True, False, True] and one["original_grade"].tolist() == [1.0, 0.0, 1.0]
    assert df["output_tokens"].isna().all() and manifest["imported"]["tokens"] == "missing"
    assert (df["correct"] == df["original_grade"].astype(bool)).all()   # both graders agree here
    out = tmp_path / "analysis"
    assert cli_in_process("analyze", run, "--out", out, "--n-boot", 5).returncode == 0
    assert (out / "report.html").is_file()


def test_every_import_is_analyzed(tmp_path):
    runs = [imported(tmp_path, fmt, path, name=fmt)[0] for fmt, path in
            (("lm-eval", LM_EVAL), ("lighteval", DATA / "lighteval"))]
    for run in runs:
        out = tmp_path / f"analysis-{run.name}"
        res = cli_in_process("analyze", run, "--out", out, "--n-boot", 5)
        assert res.returncode == 0, res.stderr
        points = pd.read_csv(out / "points.csv")
        assert set(points["strategy"]) >= {"majority_vote", "pass_at_k"}


def test_bad_imports_are_one_line_and_leave_nothing(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "samples_gsm8k_x.jsonl").write_text('{"doc_id": 0}\n')
    one_line_error(cli_in_process("import", "lm-eval", bad, "--output-dir", tmp_path / "o"), "line 1", "resps")
    (bad / "samples_gsm8k_x.jsonl").write_text('{"doc_id": 0, \n')
    one_line_error(cli_in_process("import", "lm-eval", bad, "--output-dir", tmp_path / "o"), "not valid JSON")
    one_line_error(cli_in_process("import", "nemo-skills", bad, "--output-dir", tmp_path / "o"), "output-rs")
    one_line_error(cli_in_process("import", "lighteval", tmp_path / "nowhere"), "not found")
    one_line_error(cli_in_process("import", "nemo-skills", DATA / "nemo-skills" / "aime24", "--benchmark", "nope",
                                  "--output-dir", tmp_path / "o"), "nope")
    ragged = tmp_path / "ragged"
    ragged.mkdir()
    for f in (DATA / "nemo-skills" / "aime24").glob("*.jsonl"):
        (ragged / f.name).write_text(f.read_text())
    (ragged / "output-rs1.jsonl").write_text((ragged / "output-rs1.jsonl").read_text().splitlines()[0] + "\n")
    one_line_error(cli_in_process("import", "nemo-skills", ragged, "--benchmark", "aime24", "--output-dir",
                                  tmp_path / "o"), "different numbers of lines")
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
    imported(tmp_path, "nemo-skills", DATA / "nemo-skills" / "aime24", name="twice")
    one_line_error(cli_in_process("import", "nemo-skills", DATA / "nemo-skills" / "aime24", "--output-dir",
                                  tmp_path, "--name", "twice"), "already exists")
