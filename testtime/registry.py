"""Registries by plain name: a dict plus a decorator, with lazy "module:attr" entries for heavy code.

One registry serves every pluggable kind (benchmark, strategy, scorer, sampler). Heavy backends register as
strings so that `--help`, `list` and the analyzer never import torch or vLLM.

Example:
    @register("strategy", "majority_vote")
    @dataclass(frozen=True)
    class MajorityVote: ...

    get("strategy", "majority_vote")()          # -> MajorityVote()
    register_lazy("sampler", "vllm", "testtime.samplers.vllm:VLLMSampler")

Pattern after vLLM's `register_model("Name", "module:Class")` and lm-eval's "Unknown ... Available: ..." errors.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from testtime.errors import UserError

KINDS = ("benchmark", "strategy", "scorer", "sampler")

_REGISTRY: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}


class UnknownNameError(UserError, KeyError):
    """A name that no registry holds; its message lists the valid names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def register(kind: str, name: str) -> Callable[[Any], Any]:
    """Decorator: register `obj` under `kind`/`name` and return it unchanged."""

    def deco(obj: Any) -> Any:
        _REGISTRY[kind][name] = obj
        return obj

    return deco


def register_lazy(kind: str, name: str, target: str) -> None:
    """Register a "package.module:attr" string, imported only when first asked for."""
    _REGISTRY[kind][name] = target


def names(kind: str) -> list[str]:
    """Registered names of one kind, sorted."""
    _populate(kind)
    return sorted(_REGISTRY[kind])


def get(kind: str, name: str) -> Any:
    """The object registered as `name`; raises UnknownNameError listing the valid names."""
    _populate(kind)
    table = _REGISTRY[kind]
    if name not in table:
        raise UnknownNameError(f"unknown {kind} {name!r}; available: {', '.join(sorted(table))}")
    obj = table[name]
    if isinstance(obj, str):
        module, _, attr = obj.partition(":")
        obj = getattr(importlib.import_module(module), attr)
        table[name] = obj
    return obj


def construct(kind: str, name: str, cls: Any, kwargs: dict, settings) -> Any:
    """`cls(**kwargs)` for the registered `kind`/`name`, refusing a setting not in `settings` and turning the
    constructor's own validation errors into one-line UserErrors."""
    unknown = sorted(set(kwargs) - set(settings))
    if unknown:
        raise UserError(f"{kind} {name!r} has no setting {unknown[0]!r}; "
                        f"settings: {', '.join(sorted(settings)) or 'none'}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise UserError(f"{kind} {name!r}: {e}") from None


def _populate(kind: str) -> None:
    # Importing the package runs its @register decorators; light packages only (no engines).
    package = {"benchmark": "benchmarks", "strategy": "strategies", "scorer": "strategies",
               "sampler": "testtime.samplers"}[kind]
    importlib.import_module(package)
