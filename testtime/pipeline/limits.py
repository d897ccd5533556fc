"""What a run asks of the machine and the model, checked before anything is loaded or written.

A problem's samples are in memory together (the engine returns them together; they are graded and stored as one
part), so `--n 100000000` cannot work on any machine and would otherwise run for hours before failing; a sample
longer than the model's positions is refused by the engine per request, after the model has loaded. Both are one
line here instead.

Example:
    check_memory(cfg, plan)          # before the run directory is made
    check_context(cfg, facts)        # once the model's facts are read, before its engine starts
"""

from __future__ import annotations

import os
from pathlib import Path

from testtime.config import RunConfig
from testtime.errors import UserError

BYTES_PER_SAMPLE = 5_000
"""Memory per sample besides its tokens (completion, record, row and column copies): measured on the fake backend,
~5.5 kB per short sample at n = 20,000 (peak RSS 354 MB vs 246 MB at n = 2)."""
BYTES_PER_TOKEN = 64
"""Memory per token a sample may hold: its text, its logprob as a Python float and as a column value."""


def check_memory(cfg: RunConfig, plan) -> None:
    """Refuse a width whose samples for one problem cannot fit in this machine's memory at their longest."""
    widths = {"--n": cfg.sampling.n}
    for g in plan.generation:   # searches hold a budget's worth of candidates at once; a thinking budget is tokens
        if g.budget_unit != "thinking budget" and cfg.budgets:
            widths["--budgets"] = max(max(cfg.budgets), widths.get("--budgets", 0))
    flag, width = max(widths.items(), key=lambda kv: kv[1])
    need = width * (BYTES_PER_SAMPLE + cfg.sampling.max_tokens * BYTES_PER_TOKEN)
    have = memory_bytes()
    if have and need > have:
        raise UserError(f"{width:,} samples per problem of up to {cfg.sampling.max_tokens:,} tokens need about "
                        f"{need / 2**30:,.0f} GiB of memory at once, and this machine has {have / 2**30:,.0f} GiB; "
                        f"lower {flag} (or --max-tokens)")


def check_context(cfg: RunConfig, facts) -> None:
    """Refuse an engine context or a sample length beyond the model's positions (`facts.context`)."""
    context = facts.context
    if not context or cfg.backend == "openai":   # a server checks its own
        return
    room = cfg.engine.max_model_len
    if room is not None and room > context and cfg.backend != "hf":
        raise UserError(f"engine.max_model_len ({room}) is more than the model's context ({context} positions); "
                        f"--set engine.max_model_len={context} or less")
    if cfg.sampling.max_tokens >= context:
        raise UserError(f"sampling.max_tokens ({cfg.sampling.max_tokens}) leaves no room for the prompt in the "
                        f"model's context ({context} positions); lower --max-tokens")


def memory_bytes() -> int | None:
    """This process's memory: the machine's RAM, or the cgroup's limit when lower (containers, Slurm jobs)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            total = min(total, int(Path(limit).read_text().strip()))
        except (OSError, ValueError):   # absent, or "max"
            pass
    return total
