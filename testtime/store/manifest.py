"""A run's manifest.json as a typed, frozen `Manifest`: its `RunConfig` and the facts the run recorded (sample key,
problems, versions, hardware, model facts, engine, timings, status, grades), read in one place.

Reading is tolerant: a manifest written by an older version lacks fields (they take their defaults: grader 1, no
timings, ...) and may hold config settings this version no longer knows (left out of `config`, named in
`config_dropped`); keys this version does not know are kept in `extra`. Writers never go through the typed object:
`Store.update_manifest` merges fields into the file as it is, so manifest.json keeps exactly its keys and values, and
`to_dict()` gives the manifest as stored.

Example:
    manifest = existing_manifest("runs/gsm8k-smollm2-135m-n64-1a2b3c4d")
    manifest.config.sampling.n, manifest.status, manifest.timings.get("tokens_per_s")
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testtime.config import RunConfig, build, known_settings
from testtime.errors import UserError

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Manifest:
    """What a run directory says about itself (manifest.json), typed."""

    run_id: str | None = None
    """The run's name (its folder's name)."""
    status: str | None = None
    """"sampling", "sampled" (every sample stored) or "complete" (results written); None before the model loaded."""
    config: RunConfig | None = None
    """The configuration the run was made with (evaluated with, after `regrade --grading`); None when the manifest
    holds none, or none this version can read (`config_error` says why)."""
    sample_key: dict | None = None
    """Everything that shapes the stored samples (RunConfig.sample_key()); a run directory serves only that key."""
    problems: tuple[str, ...] = ()
    """The run's problem ids, in benchmark order."""
    model_path: str | None = None
    """The model folder the engine loaded (None for the fake backend's built-in names)."""
    model_facts: dict = field(default_factory=dict)
    """testtime.models.ModelFacts of the model, as a dict (parameters, layers, widths, context, ...)."""
    engine: dict = field(default_factory=dict)
    """The sampler's own description (backend, engine version and arguments)."""
    created: str | None = None
    """When the run directory was first written (ISO 8601 with offset)."""
    evaluated: str | None = None
    """When the results were last written."""
    timings: dict = field(default_factory=dict)
    """Seconds per phase (model_load_s, sampling_s, scoring_s, gold_likelihood_s), sampled_tokens and tokens_per_s."""
    versions: dict = field(default_factory=dict)
    """Package versions (python, vllm, torch, ...; testtime.pipeline.provenance)."""
    hardware: dict = field(default_factory=dict)
    """Machine, CPUs, memory and GPUs."""
    git_commit: str | None = None
    """The code's commit, where it ran from a git checkout."""
    grader_version: int = 1
    """The grader that graded the stored samples (benchmarks.grading.GRADER_VERSION); 1 in manifests before it was
    recorded."""
    grades: dict = field(default_factory=dict)
    """How the pool's samples graded: the policy, samples, counts by extraction, accuracy under both policies."""
    regraded: dict | None = None
    """What the last `regrade` changed (counts, grader before and after, when)."""
    strategies: tuple[str, ...] = ()
    """The strategies the last evaluation ran."""
    pool_size: int | None = None
    """The most samples per problem the stored pool holds; `config.sampling.n` is the n the last evaluation read
    (each problem's first n samples by index). None in manifests made before pools grew in place."""
    gold_likelihood: str | None = None
    """Why the gold answers' likelihoods were not read, when they were not (the backend cannot read prompt
    logprobs)."""
    config_dropped: tuple[str, ...] = ()
    """Config settings the manifest holds that this version does not know (left out of `config`)."""
    config_error: str | None = None
    """Why `config` is None although the manifest holds a config (a setting this version refuses)."""
    extra: dict = field(default_factory=dict)
    """Keys of manifest.json this version does not know, kept as they are."""
    stored: dict = field(default_factory=dict, repr=False, compare=False)
    """manifest.json as read (what `to_dict` returns)."""

    @classmethod
    def from_dict(cls, data: dict) -> "Manifest":
        """The typed manifest of manifest.json's mapping; missing fields take their defaults."""
        names = {f.name for f in dataclasses.fields(cls)} - {"config_dropped", "config_error", "extra", "stored"}
        kw: dict[str, Any] = {k: v for k, v in data.items() if k in names and v is not None}
        for name in ("problems", "strategies"):
            if name in kw:
                kw[name] = tuple(kw[name])
        for name in ("model_facts", "engine", "timings", "versions", "hardware", "grades"):
            if name in kw and not isinstance(kw[name], dict):
                kw[name] = {}
        if isinstance(kw.get("gold_likelihood"), bool):   # never written as a flag, but be safe
            kw["gold_likelihood"] = None
        raw = data.get("config")
        kw["config"] = None
        if isinstance(raw, dict) and raw:
            if "bootstrap_seed" not in raw and "subset_seed" in raw:
                # made before the bootstrap had its own seed: subset_seed seeded it, and re-evaluating keeps its CIs
                raw = {**raw, "bootstrap_seed": raw["subset_seed"]}
            known = known_settings(RunConfig, raw)
            kw["config_dropped"] = tuple(sorted(_dropped(raw, known)))
            try:
                kw["config"] = build(RunConfig, known, "config.")
            except UserError as e:
                kw["config_error"] = str(e)
        return cls(**kw, extra={k: v for k, v in data.items() if k not in names}, stored=copy.deepcopy(data))

    def to_dict(self) -> dict:
        """The manifest as manifest.json holds it (every key, unknown ones included, values as stored); for one
        not read from a file, its fields that differ from the defaults."""
        if self.stored:
            return copy.deepcopy(self.stored)
        out = dict(self.extra)
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("config_dropped", "config_error", "extra", "stored") or value == _default(f):
                continue
            out[f.name] = value.to_dict() if isinstance(value, RunConfig) else \
                list(value) if isinstance(value, tuple) else copy.deepcopy(value)
        return out

    def config_or_refuse(self, what: str) -> RunConfig:
        """The run's config; a one-line UserError naming `what` could not be done when there is none."""
        if self.config is not None:
            return self.config
        why = (f"its config is not valid in this version ({self.config_error})" if self.config_error
               else "its manifest holds no config; it was never started")
        raise UserError(f"cannot {what}: {why}")

    # The names the analyzer and reports show; "unknown" when the manifest holds no config.

    @property
    def model(self) -> str:
        """The model's name as the run was configured (a built-in, folder or hub id); "unknown" without a config."""
        return self.config.model if self.config is not None else _stored(self.stored, "model")

    @property
    def benchmark(self) -> str:
        """The benchmark's name; "unknown" without a config."""
        return self.config.benchmark if self.config is not None else _stored(self.stored, "benchmark")

    @property
    def grading(self) -> str:
        """The grade the run's results count ("flexible" or "strict")."""
        return self.config.grading if self.config is not None else "flexible"


def _default(f: dataclasses.Field):
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def _stored(data: dict, key: str) -> str:
    config = data.get("config")
    return str(config.get(key, "unknown")) if isinstance(config, dict) else "unknown"


def _dropped(raw: dict, known: dict, where: str = "") -> list[str]:
    out = []
    for k, v in raw.items():
        if k not in known:
            out.append(where + k)
        elif isinstance(v, dict) and isinstance(known[k], dict) and v is not known[k]:
            out += _dropped(v, known[k], f"{where}{k}.")
    return out


def read_manifest(run_dir: str | Path) -> Manifest | None:
    """The run's manifest.json as a Manifest; None when there is none; a damaged one is a one-line UserError."""
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"{path} is not valid JSON; the run directory is damaged (delete it to start over)") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} is not a run manifest (a JSON object); the run directory is damaged (delete it to "
                        "start over)")
    return Manifest.from_dict(data)


def existing_manifest(run_dir: str | Path) -> Manifest:
    """The manifest of a run directory that must exist (for `show`, `analyze`)."""
    manifest = read_manifest(run_dir)
    if manifest is None:
        raise UserError(f"{run_dir} is not a testtime run directory (no manifest.json); "
                        "pass a folder under runs/ (see `python -m testtime show`)")
    return manifest
