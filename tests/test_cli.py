"""Bad input gets one clear line and exit 2, never a traceback and never a run directory; light commands stay light;
tables stay whole in a pipe or a file."""

import io
import re
import subprocess
import sys

import pytest

from tests.helpers import ROOT, cli, cli_in_process, one_line_error

CASES = [
    (["--model", "no-such-model"], ["unknown model", "smollm2-135m"]),
    (["--benchmark", "gsm9k"], ["unknown benchmark 'gsm9k'", "gsm8k", "math500"]),
    (["--strategy", "best_of_m"], ["unknown strategy 'best_of_m'", "majority_vote"]),
    (["--strategy", "best_of_n:nope"], ["unknown scorer 'nope'", "logprob"]),
    (["--n", "0"], ["--n must be >= 1"]),
    (["--n", "-3"], ["--n must be >= 1"]),
    (["--limit", "-1"], ["limit"]),
    (["--temperature", "-1"], ["temperature"]),
    (["--set", "sampling.nn=4"], ["unknown setting 'sampling.nn'", "max_tokens"]),
    (["--set", "sampling.n=many"], ["sampling.n must be int"]),
]


@pytest.mark.parametrize("extra,needles", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_run_input(extra, needles, data_dir, tmp_path):
    res = cli_in_process("run", "--backend", "fake", "--data-dir", data_dir, "--output-dir", tmp_path / "runs", *extra)
    one_line_error(res, *needles)
    assert not (tmp_path / "runs").exists()  # nothing half-written


def test_missing_data_dir(tmp_path):
    res = cli_in_process("run", "--backend", "fake", "--data-dir", tmp_path / "nowhere", "--output-dir",
                         tmp_path / "runs", env={"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"})
    one_line_error(res, "no data for gsm8k", "--data-dir")
    assert not (tmp_path / "runs").exists()


def test_model_not_available_offline(data_dir, tmp_path):
    # A child process: huggingface_hub reads HF_HUB_OFFLINE once, when it is imported.
    res = cli("run", "--backend", "fake", "--model", "someone/not-here", "--data-dir", data_dir,
              "--output-dir", tmp_path / "runs", env={"HF_HUB_OFFLINE": "1"})
    one_line_error(res, "not available offline", "smollm2-135m")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("text,needle", [
    ("model: [unclosed", "not valid YAML"),
    ("- just\n- a list\n", "must hold a mapping"),
    ("samplng:\n  n: 4\n", "unknown setting 'samplng'"),
    ("sampling:\n  n: four\n", "sampling.n must be int"),
    ("engine:\n  gpu_memory_utilization: 2\n", "gpu_memory_utilization"),
])
def test_malformed_config(text, needle, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    one_line_error(cli_in_process("run", "--config", path, "--output-dir", tmp_path / "runs"), needle)


def test_config_file_missing(tmp_path):
    one_line_error(cli_in_process("run", "--config", tmp_path / "none.yaml"), "not found")


@pytest.mark.parametrize("args, needle", [
    (["--first", 3, "--limit", 2], "--limit and --first both say how many problems"),
    (["--first", 0], "--first must be >= 1"),
    (["--problems", "no-such-file.txt"], "problem id file no-such-file.txt not found"),
    (["--set", "subset=last"], "subset must be random or first"),
])
def test_problem_choice_argument_errors(args, needle):
    one_line_error(cli_in_process("run", "--backend", "fake", *args), needle)


def test_problem_choice_flags_become_settings(tmp_path):
    from testtime.cli import build_parser, run_config

    ids = tmp_path / "ids.txt"
    ids.write_text("aime25/test/3\naime25/test/1\n")
    cfg = run_config(build_parser().parse_args(["run", "--problems", str(ids)]))
    assert cfg.problem_ids == ("aime25/test/3", "aime25/test/1") and cfg.limit is None   # not the config's limit
    cfg = run_config(build_parser().parse_args(["run", "--problems", str(ids), "--first", "1"]))
    assert (cfg.limit, cfg.subset) == (1, "first")
    cfg = run_config(build_parser().parse_args(["run", "--limit", "5"]))
    assert (cfg.limit, cfg.subset, cfg.problem_ids) == (5, "random", ())


def test_list_shows_every_benchmark(data_dir):
    res = cli_in_process("list", "--data-dir", data_dir)
    assert res.returncode == 0
    rows = {line.split()[1]: line for line in res.stdout.splitlines() if line.startswith("│ ")}
    assert "olympiadbench" in rows and "658" in rows["olympiadbench"] and "17" in rows["olympiadbench"]
    assert "Hothan/OlympiadBench" in rows["olympiadbench"] and "yes" in rows["olympiadbench"]
    assert "no: hub" in rows["gpqa_diamond"] and "Idavidrein/gpqa" in rows["gpqa_diamond"]
    assert "272" in rows["minerva_math"] and "1,319" in rows["gsm8k"]


def test_laws_rejects_nonpositive_compute():
    one_line_error(cli_in_process("laws", "--compute", "-5"), "positive")


def test_light_commands_do_not_import_engines():
    code = ("import sys; from testtime.cli import main; main(['list']); "
            "bad = [m for m in ('vllm', 'torch', 'transformers') if m in sys.modules]; "
            "assert not bad, bad")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert "gsm8k" in res.stdout and "best_of_n" in res.stdout and "qwen2.5-coder-0.5b" in res.stdout


def test_laws_prints_allocations():
    res = cli_in_process("laws", "--compute", "5.76e23")
    assert res.returncode == 0 and "Chinchilla" in res.stdout or "chinchilla" in res.stdout.lower()


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_config_builds(path):
    """Each config in configs/ parses, and its strategies and scorers are known with valid settings."""
    from testtime.config import load_config
    from testtime.pipeline.evaluate import make_strategy
    from testtime.pipeline.runner import make_scorer

    cfg = load_config(path)
    strategies = [make_strategy(s, cfg.scorer, cfg.strategy_options) for s in cfg.strategies]
    for s in strategies:
        if s.scorer is not None:
            make_scorer(s.scorer, cfg)
    if any(s.kind == "generation" for s in strategies):
        assert cfg.budgets


def test_name_flag_is_a_typed_string(data_dir, tmp_path):
    """`--name 2024` names the run "2024" (flags are typed values, not YAML text); `--name null` is the name "null"."""
    for name in ("2024", "null"):
        res = cli_in_process("run", "--backend", "fake", "--data-dir", data_dir, "--limit", 2, "--n", 2,
                             "--output-dir", tmp_path, "--name", name)
        assert res.returncode == 0, res.stderr
        assert (tmp_path / name / "results.json").is_file()


def test_show_and_analyze_print_the_same_results_table(data_dir, tmp_path):
    """One loader (store.records.Results) behind `show RUN` and `analyze RUN`: the same table in both."""
    assert cli_in_process("run", "--backend", "fake", "--data-dir", data_dir, "--limit", 3, "--n", 4, "--output-dir",
                          tmp_path, "--name", "r").returncode == 0
    show = cli_in_process("show", tmp_path / "r")
    analyze = cli_in_process("analyze", tmp_path / "r", "--n-boot", 0, "--out", tmp_path / "a")
    assert show.returncode == 0 and analyze.returncode == 0, analyze.stderr
    table = show.stdout[show.stdout.index("best_of_n by logprob"):]
    table = table[:table.index("pass_at_k")]
    assert table.strip() and table in analyze.stdout


def test_readme_python_api_example_runs(tmp_path):
    """The README's Python API example runs as written (from the repository root)."""
    import re
    import shutil

    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Python API.*?```python\n(.*?)```", text, re.S).group(1)
    try:
        res = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        assert "api-demo" in res.stdout and "ResultRow(strategy='best_of_n'" in res.stdout
    finally:
        shutil.rmtree(ROOT / "runs" / "api-demo", ignore_errors=True)


@pytest.fixture
def in_process(monkeypatch):
    """main() in this process, from the repository root, with stdout captured (not a terminal) and COLUMNS unset."""
    import signal

    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("COLUMNS", raising=False)
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)   # main() installs its own


def unwrapped(text: str) -> None:
    """No table row of `text` is wrapped: each header is one line, and no line continues a row (a blank first cell:
    every table here fills its first column)."""
    lines = text.splitlines()
    tops = [i for i, line in enumerate(lines) if line.startswith("┏")]
    assert tops, text
    for i in tops:
        assert lines[i + 1].startswith("┃") and lines[i + 2].startswith("┡"), "\n".join(lines[i:i + 4])
    continued = [line for line in lines if re.match(r"│ +│", line)]
    assert not continued, continued[:3]


def test_show_and_analyze_keep_tables_whole_in_a_pipe_or_a_file(in_process, data_dir, tmp_path, capsys):
    """Captured stdout (a pipe, a file, a log) gets full-width tables, not rich's 80 columns: "single-sample
    accuracy" is one header, not "singl / e-sam / ple / accur / acy"."""
    from testtime.cli import main

    assert main(["run", "--backend", "fake", "--data-dir", str(data_dir), "--limit", "3", "--n", "8",
                 "--output-dir", str(tmp_path), "--name", "r"]) == 0
    unwrapped(capsys.readouterr().out)
    assert main(["show", str(tmp_path / "r")]) == 0
    show = capsys.readouterr().out
    unwrapped(show)
    assert "│ versions   │ python " in show
    assert main(["analyze", str(tmp_path / "r"), "--n-boot", "0", "--out", str(tmp_path / "a")]) == 0
    analyze = capsys.readouterr().out
    unwrapped(analyze)
    for header in ("accuracy (95% CI)", "single-sample accuracy", "two-level CI", "N (params)", "held-out MAE"):
        assert header in analyze, header
    assert max(len(line) for line in analyze.splitlines()) > 120


def test_columns_and_a_terminal_keep_their_width(in_process, data_dir, tmp_path, capsys, monkeypatch):
    """COLUMNS, when set, is the width; on a terminal rich measures it as before."""
    from testtime.cli import _wide, main

    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert _wide(io.StringIO()) and not _wide(Tty())
    monkeypatch.setenv("COLUMNS", "70")
    assert not _wide(io.StringIO())
    assert main(["laws", "--compute", "1e23"]) == 0
    assert max(len(line) for line in capsys.readouterr().out.splitlines()) <= 70
