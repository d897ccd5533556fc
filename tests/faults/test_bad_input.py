"""Bad input and bad servers through the CLI, in process: one line on stderr naming the problem and what to do, exit 2
(the user's input) or 1 (a server answering out of protocol), no traceback, and nothing written.

Cases: a server that answers the connect probes with a page that is not JSON or with JSON of another shape; data
rows with fields of the wrong type, missing, or an empty gold answer, for every benchmark; paths that name a file
where a folder is needed (and the reverse); `analyze` options that would match nothing.
"""

import json
import signal

import pytest

from tests.fake_openai_server import Script, Server, tiny_model
from tests.helpers import ROOT, cli_in_process
from testtime.cli import main


@pytest.fixture(autouse=True)
def in_repo(monkeypatch):
    monkeypatch.chdir(ROOT)   # configs/default.yaml is read relative to the working directory
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)   # main() installs its own


def refused(capsys, argv, code, *needles, absent=()) -> str:
    """Run the CLI in process; check it refused with one line holding `needles` and wrote none of `absent`."""
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert rc == code, (rc, out, err)
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    for path in absent:
        assert not path.exists(), f"{path} was written"
    return lines[0]


GOOD = {
    "gsm8k": {"question": "What is 1 + 1?", "answer": "One and one.\n#### 2"},
    "math500": {"problem": "What is 1 + 1?", "answer": "2"},
    "aime24": {"problem": "What is 1 + 1?", "answer": "002"},
    "amc23": {"question": "What is 1 + 1?", "answer": 2.0},
    "svamp": {"Body": "Tom has 1 apple and gets 1 more.", "Question": "How many has he?", "Answer": 2.0},
    "aqua": {"question": "What is 1 + 1?", "options": ["A)1", "B)2"], "correct": "B"},
    "mmlu_stem": {"question": "What is 1 + 1?", "choices": ["1", "2", "3", "4"], "answer": 1},
}


def data_file(tmp_path, benchmark: str, bad: str):
    """A data folder whose <benchmark>/test.jsonl holds a good row on line 1 and `bad` on line 2."""
    folder = tmp_path / "data" / benchmark
    folder.mkdir(parents=True)
    (folder / "test.jsonl").write_text(json.dumps(GOOD[benchmark]) + "\n" + bad + "\n")
    return tmp_path / "data", folder / "test.jsonl"


def run_args(data_dir, out, *extra):
    return ["run", "--backend", "fake", "--data-dir", data_dir, "--limit", 0, "--n", 2, "--output-dir", out, *extra]


# ---- data rows: wrong types, missing fields, empty gold answers, in every benchmark's loader ---------------------

@pytest.mark.parametrize("benchmark, bad, needles", [
    ("gsm8k", {"question": 5, "answer": "#### 3"}, ["field 'question' is a number (5), not text"]),
    ("gsm8k", {"question": ["What", "is"], "answer": "#### 3"}, ["field 'question' is a list"]),
    ("gsm8k", {"question": "Why?", "answer": None}, ["field 'answer' is null, not a gold answer"]),
    ("gsm8k", {"question": "Why?", "answer": "  "}, ["field 'answer' has an empty gold answer"]),
    ("gsm8k", {"question": "Why?", "answer": "Because. ####  "}, ["empty gold answer after '####'"]),
    ("gsm8k", {"question": "Why?"}, ["has no 'answer' field"]),
    ("math500", {"problem": "Why?", "answer": ""}, ["field 'answer' has an empty gold answer"]),
    ("math500", {"problem": "Why?", "answer": {"value": 2}}, ["field 'answer' is an object"]),
    ("math500", {"problem": "", "answer": "2"}, ["field 'problem' is empty"]),
    ("aime24", {"question": "Why?", "answer": True}, ["field 'answer' is true/false"]),
    ("aime24", {"answer": "2"}, ["has no 'problem' or 'question' field"]),
    ("amc23", {"question": "Why?", "answer": float("nan")}, ["field 'answer' is a number (NaN)"]),
    ("amc23", {"question": 12, "answer": 2}, ["field 'question' is a number (12)"]),
    ("svamp", {"Body": "Tom has 1.", "Question": 7, "Answer": 2}, ["field 'Question' is a number (7)"]),
    ("svamp", {"Body": "Tom has 1.", "Question": "How many?", "Answer": " "}, ["field 'Answer' has an empty gold"]),
    ("aqua", {"question": "Why?", "options": "A)1 B)2", "correct": "A"}, ["field 'options' is a string"]),
    ("aqua", {"question": "Why?", "options": ["A)1", "B)2"], "correct": "C"},
     ["field 'correct' is a string (\"C\"), not one of the row's 2 options (A, B"]),
    ("aqua", {"question": "Why?", "options": ["A)1", "B)2"], "correct": ""}, ["field 'correct' has an empty gold"]),
    ("mmlu_stem", {"question": "Why?", "choices": ["1", "2", "3", "4"], "answer": 7},
     ["field 'answer' is a number (7), not one of the row's 4 options"]),
    ("mmlu_stem", {"question": "Why?", "choices": ["1", "2", "3", "4", "5"], "answer": 0},
     ["field 'choices' holds 5 options; a problem takes 2 to 4"]),
    ("mmlu_stem", {"question": "Why?", "choices": [1, 2, 3, 4], "answer": 0}, ["field 'choices' is a list"]),
])
def test_bad_data_row_is_one_line_naming_file_line_and_field(capsys, tmp_path, benchmark, bad, needles):
    data, path = data_file(tmp_path, benchmark, json.dumps(bad))
    line = refused(capsys, run_args(data, tmp_path / "runs", "--benchmark", benchmark), 2,
                   f"{path} line 2", *needles, absent=[tmp_path / "runs"])
    assert "fix that row or delete the line" in line or "every row of the file needs it" in line


# ---- paths: a file where a folder is needed, a folder where a file is ---------------------------------------------

def test_output_dir_that_is_a_file(capsys, tmp_path, data_dir):
    taken = tmp_path / "results.txt"
    taken.write_text("keep me")
    for out in (taken, taken / "sub"):
        refused(capsys, run_args(data_dir, out, "--limit", 2), 2, f"run directory {out}/",
                f"{taken} is a file, not a folder", "pass another --output-dir")
    assert taken.read_text() == "keep me" and sorted(tmp_path.iterdir()) == [taken]


def test_data_dir_that_is_a_file(capsys, tmp_path):
    (tmp_path / "data.jsonl").write_text("{}\n")
    refused(capsys, run_args(tmp_path / "data.jsonl", tmp_path / "runs"), 2,
            f"data directory {tmp_path / 'data.jsonl'} is a file, not a folder", "gsm8k/test.jsonl as --data-dir",
            absent=[tmp_path / "runs"])


def test_config_that_is_a_folder_or_not_text(capsys, tmp_path, data_dir):
    refused(capsys, run_args(data_dir, tmp_path / "runs", "--config", tmp_path), 2,
            f"config file {tmp_path} is a folder, not a file", absent=[tmp_path / "runs"])
    (tmp_path / "c.yaml").write_bytes(b"limit: 2\nname: caf\xe9\n")
    refused(capsys, run_args(data_dir, tmp_path / "runs", "--config", tmp_path / "c.yaml"), 2,
            "is not UTF-8 text", absent=[tmp_path / "runs"])


def test_show_output_dir_that_is_a_file(capsys, tmp_path):
    (tmp_path / "runs").write_text("keep me")
    refused(capsys, ["show", "--output-dir", tmp_path / "runs"], 2, f"--output-dir {tmp_path / 'runs'} is a file")


@pytest.mark.parametrize("name", ["a/b", "..", "../../elsewhere", "/tmp/abs"])
def test_name_that_is_not_one_folder(capsys, tmp_path, data_dir, name):
    refused(capsys, run_args(data_dir, tmp_path / "runs", "--name", name), 2, f"run name {name!r}",
            absent=[tmp_path / "runs"])


# ---- analyze / compare: an output folder that is a file; selectors that match nothing ---------------------------

@pytest.fixture(scope="module")
def fake_run(tmp_path_factory):
    """One small fake-backend run on svamp (budgets 1, 2, 4)."""
    from tests.helpers import DATA

    if not DATA.is_dir():
        pytest.skip(f"benchmark data not found at {DATA}")
    root = tmp_path_factory.mktemp("runs")
    res = cli_in_process("run", "--backend", "fake", "--data-dir", DATA, "--benchmark", "svamp", "--limit", 4,
                         "--n", 4, "--output-dir", root, "--name", "r")
    assert res.returncode == 0, res.stderr
    return root / "r"


def test_analyze_out_that_is_a_file(capsys, tmp_path, fake_run):
    taken = tmp_path / "report.html"
    taken.write_text("keep me")
    for out in (taken, taken / "sub"):
        refused(capsys, ["analyze", fake_run, "--out", out, "--n-boot", 5], 2, f"--out {out}",
                "is a file, not a folder")
    assert taken.read_text() == "keep me" and sorted(tmp_path.iterdir()) == [taken]


@pytest.mark.parametrize("pair, needles", [
    (["nothing@4", "majority_vote@4"], ["--paired nothing@4 matched no cell",
                                         "majority_vote@{1,2,4}/smollm2-135m", "best_of_n:logprob@{1,2,4}"]),
    (["majority_vote@4", "best_of_n@64"], ["--paired best_of_n@64 matched no cell", "pass_at_k@{1,2,4}"]),
    (["majority_vote@4", "majority_vote@4/other-model"], ["--paired majority_vote@4/other-model matched no cell"]),
    (["majority-vote", "best_of_n@4"], ["--paired takes cells as strategy[:scorer]@n[/model]", "'majority-vote'"]),
])
def test_paired_cell_that_matches_nothing(capsys, tmp_path, fake_run, pair, needles):
    refused(capsys, ["analyze", fake_run, "--out", tmp_path / "an", "--n-boot", 5, "--paired", *pair], 2,
            *needles, absent=[tmp_path / "an"])


@pytest.mark.parametrize("option, needle", [(["--bins", 0], "--bins must be at least 1"),
                                            (["--forecast-from", -1], "--forecast-from must be")])
def test_analysis_options_out_of_range(capsys, tmp_path, fake_run, option, needle):
    refused(capsys, ["analyze", fake_run, "--out", tmp_path / "an", "--n-boot", 5, *option], 2, needle,
            absent=[tmp_path / "an"])


# ---- a server that answers 200 but not as an OpenAI-compatible server does ----------------------------------------

@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def server(model_dir):
    from transformers import AutoTokenizer

    s = Server(Script(), AutoTokenizer.from_pretrained(str(model_dir))).start()
    yield s
    s.stop()


PAGE = "<html><body>502 Bad Gateway</body></html>"


@pytest.mark.parametrize("bodies, needles", [
    ({"/v1/models": PAGE}, ["GET {url}/models answered HTTP 200 with a body that is not JSON", "Bad Gateway"]),
    ({"/v1/models": {}}, ["GET {url}/models answered HTTP 200 without a 'data' list of models ({})"]),
    ({"/v1/models": [{"id": "tiny"}]}, ["GET {url}/models answered HTTP 200 without a 'data' list"]),
    ({"/v1/models": {"data": []}}, ["the server at {url} lists no models", "vllm serve"]),
    ({"/version": PAGE}, ["GET {root}/version answered HTTP 200 with a body that is not JSON"]),
    ({"/version": ["0.32"]}, ["GET {root}/version answered HTTP 200 with JSON that is not an object"]),
    ({"/tokenize": {"count": 3}}, ["POST {root}/tokenize answered HTTP 200 without a 'tokens' list"]),
    ({"/tokenize": ""}, ["POST {root}/tokenize answered HTTP 200 with an empty body"]),
    ({"/v1/completions": PAGE}, ["POST {url}/completions answered HTTP 200 with a body that is not JSON"]),
    ({"/v1/completions": {"choices": []}}, ["POST {url}/completions answered HTTP 200 with no samples in 'choices'"]),
    ({"/v1/completions": {"object": "error"}}, ["POST {url}/completions answered HTTP 200 without a 'choices'"]),
])
def test_server_answering_out_of_protocol_at_connect(capsys, tmp_path, server, model_dir, bodies, needles):
    server.script.bodies = bodies
    data, _ = data_file(tmp_path, "gsm8k", json.dumps(GOOD["gsm8k"]))
    url, root = server.url, server.url.removesuffix("/v1")
    args = ["run", "--backend", "openai", "--model", model_dir, "--data-dir", data, "--limit", 0, "--n", 2,
            "--max-tokens", 16, "--strategy", "majority_vote", "--output-dir", tmp_path / "runs",
            "--set", f"endpoint.base_url={url}", "--set", "endpoint.max_retries=1",
            "--set", "endpoint.health_timeout_s=0.5"]
    needles = [n.replace("{url}", url).replace("{root}", root) for n in needles]
    refused(capsys, args, 1, *needles, absent=[tmp_path / "runs"])
    assert [b for b in server.script.requests if b["max_tokens"] > 1] == []   # nothing sampled
