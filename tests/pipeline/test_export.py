"""Export (issue 26): a run's pool as a folder that `datasets.load_dataset` reads directly (Parquet under data/ and a
README.md dataset card naming it); loaded back with `datasets` where it is installed, else with pandas and the card's
front matter checked as the Hub reads it."""

import importlib.util
import json

import pandas as pd
import yaml

from tests.helpers import cli_in_process, one_line_error
from testtime.store.store import Store


def test_export_loads_back_as_the_pool(data_dir, tmp_path):
    args = ["run", "--backend", "fake", "--data-dir", data_dir, "--limit", 3, "--n", 4, "--output-dir", tmp_path,
            "--name", "r"]
    assert cli_in_process(*args).returncode == 0
    res = cli_in_process("export", tmp_path / "r", "--to", tmp_path / "ds")
    assert res.returncode == 0, res.stderr
    ds = tmp_path / "ds"
    stored = Store(tmp_path / "r").table().to_pandas().sort_values(["problem_id", "sample_index"])
    if importlib.util.find_spec("datasets") is not None:   # as a datasets user loads it
        import datasets

        for loaded in (datasets.load_dataset(str(ds))["train"],
                       datasets.load_dataset("parquet", data_dir=str(ds))["train"]):
            back = loaded.to_pandas()
            assert len(back) == len(stored) and back["text"].tolist() == stored["text"].tolist()
    back = pd.read_parquet(ds / "data")
    assert back["text"].tolist() == stored["text"].tolist()
    assert back["correct"].tolist() == stored["correct"].tolist() and len(back) == 12
    gold = pd.read_parquet(tmp_path / "r" / "gold.parquet") if (tmp_path / "r" / "gold.parquet").exists() else None
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    card = (ds / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    files = front["configs"][0]["data_files"][0]
    assert files["split"] == "train" and list(ds.glob(files["path"])) == [ds / "data" / "train-00000-of-00001.parquet"]
    assert f"| grader version | {manifest['grader_version']} |" in card
    assert "| problems | 3 |" in card and "| samples | 12 |" in card and "smollm2-135m" in card
    assert '"temperature"' in card   # the run's config
    if gold is not None:
        assert set(back["gold"]) == set(gold["gold"])
    one_line_error(cli_in_process("export", tmp_path / "r", "--to", ds), "already exists")
    one_line_error(cli_in_process("export", tmp_path / "nowhere", "--to", tmp_path / "x"), "not a testtime run")
