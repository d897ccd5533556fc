"""What each cell costs beyond FLOPs, and where the compute-optimal choice depends on how cost is counted.

Every cell (run, strategy, scorer, n) of the shared problems is costed from its pool, each stored sample weighted by
its expected share of generation (`Estimate.usage`: n/N for n samples at random, less for a strategy that stops
early):

    eflops_per_problem             FLOPs + I x memory bytes (testtime.flops: Kinetics, Sadhukhan et al. 2025): the
                                   weights read once per decode step for `batch` sequences, the KV cache of every
                                   attended position, the prompt's shared by the problem's samples decoded side by
                                   side (`Estimate.batch`); I is the device's FLOPs per byte. A sample cut short is
                                   charged its share of its own-context reads (an over-estimate of at most 2x for that
                                   term of that sample). Prefill is charged its FLOPs only, as Kinetics does.
    request_seconds_per_problem    seconds measured per request (time to first token + per output token, stored with
                                   the samples): the time the cell's samples took under the load they were sampled
                                   at, one after another (a latency upper bound for samples run side by side).
    token_dollars_per_problem      per-token prices ($ per million: input, cached input, output): the prompt at the
                                   input price for the first sample and the cached-input price for each further one
                                   (a provider's prefix cache), the generated tokens at the output price.
Beside them the table already holds FLOPs, device-seconds (`seconds_per_problem`, the run's measured throughput)
and dollars per device-hour.

`cost_frontiers` draws the Pareto frontier under each cost; `cost_choices` takes, for every accuracy a frontier
reaches, the cheapest cell reaching it under each cost and marks where they differ.

Example:
    model = CostModel(device="h100", batch=256, price_per_mtok=(0.15, 0.075, 0.60))
    costs = cell_costs(cells, runs, model)      # one row per cell
    cost_choices(table)                          # where FLOPs, eFLOPs, seconds and dollars disagree
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from testtime.analysis.frontier import frontier
from testtime.analysis.pools import subset
from testtime.analysis.runs import label
from testtime.flops import decode_bytes, device, kv_bytes_per_token
from testtime.models import ModelFacts

COSTS = {"flops": ("flops_per_problem", "FLOPs"), "eflops": ("eflops_per_problem", "eFLOPs"),
         "seconds": ("seconds_per_problem", "device-seconds (throughput)"),
         "request_seconds": ("request_seconds_per_problem", "seconds (measured per request)"),
         "dollars": ("dollars_per_problem", "$ (per device-hour)"),
         "token_dollars": ("token_dollars_per_problem", "$ (per token)")}
"""Cost name -> (table column, label), in the order tables show them."""


@dataclass(frozen=True)
class CostModel:
    """How cells are costed beyond FLOPs."""

    device: str = "h100"
    """A named device (testtime.flops.DEVICES: a100, h100, h200, b200, cpu) or FLOPs per byte as a number."""
    batch: float | None = 256
    """Sequences decoded per step, over which one read of the weights is shared; None: so many that weight reads
    vanish (Kinetics' cost model)."""
    prefix_sharing: bool = True
    """The prompt's KV cache is read once per step for the problem's samples decoded side by side (Kinetics)."""
    price_per_mtok: tuple[float, float, float] | None = None
    """Dollars per million tokens: input, cached input, output (None: no per-token dollars)."""

    def __post_init__(self) -> None:
        device(self.device)   # a bad name fails here, in one line
        if self.batch is not None and not self.batch >= 1:
            raise ValueError(f"the decode batch must be at least 1 sequence (or none); got {self.batch}")
        if self.price_per_mtok is not None and (len(self.price_per_mtok) != 3
                                                or any(not p >= 0 for p in self.price_per_mtok)):
            raise ValueError("prices per million tokens are three numbers >= 0: input, cached input, output")


def facts_of(manifest) -> ModelFacts | None:
    """The run's ModelFacts from its manifest (None when it recorded none this version can read)."""
    known = {f.name for f in fields(ModelFacts)}
    data = {k: v for k, v in (manifest.model_facts or {}).items() if k in known}
    try:
        return ModelFacts(**data)
    except TypeError:
        return None


def cell_costs(cells, runs, model: CostModel) -> pd.DataFrame:
    """One row per cell of `cells` (run, strategy, scorer, n) with eflops_per_problem, memory_bytes_per_problem,
    request_seconds_per_problem and token_dollars_per_problem (NaN where the run lacks what a cost needs: model facts,
    timings, prices).

    Args:
        cells: testtime.analysis.uncertainty.Cells of one benchmark (with usage and batch per cell).
        runs: the RunPools they were evaluated from.
        model: the CostModel.
    """
    dev = device(model.device)
    pools = {r.run: r for r in runs if r.pool is not None}
    rows = []
    for key in cells.point:
        m, run, strategy, scorer, n = key
        r = pools.get(run)
        usage = cells.usage.get(key)
        row = {"run": run, "strategy": strategy, "scorer": scorer, "n": n, "eflops_per_problem": np.nan,
               "memory_bytes_per_problem": np.nan, "request_seconds_per_problem": np.nan,
               "token_dollars_per_problem": np.nan}
        if r is None or usage is None:
            rows.append(row)
            continue
        pool = subset(r.pool, cells.problems)
        L = pool.output_tokens.astype(float)
        P = pool.prompt_tokens.astype(float)
        tokens = (usage * L).sum(axis=1)
        samples = cells.samples[key]
        facts = facts_of(r.manifest)
        if facts is not None and facts.n_layers:
            share = cells.batch.get(key) if model.prefix_sharing else None
            share = np.ones(len(P)) if share is None else np.maximum(np.asarray(share, float), 1)
            own = (usage * decode_bytes(facts, 0, L, dtype_bytes=dev.dtype_bytes, batch=model.batch)).sum(axis=1)
            prompt = kv_bytes_per_token(facts, dev.dtype_bytes) * P * tokens / share
            memory = own + prompt
            row["memory_bytes_per_problem"] = float(memory.mean())
            row["eflops_per_problem"] = float((cells.flops[key] + dev.intensity * memory).mean())
        row["request_seconds_per_problem"] = float((usage * pool.seconds).sum(axis=1).mean())
        if model.price_per_mtok is not None:
            cin, cached, out = model.price_per_mtok
            row["token_dollars_per_problem"] = float(((P * (cin + np.maximum(samples - 1, 0) * cached)
                                                       + tokens * out) / 1e6).mean())
        rows.append(row)
    return pd.DataFrame(rows)


def add_costs(table: pd.DataFrame, costs: pd.DataFrame) -> pd.DataFrame:
    """The table with the cost columns of `costs` joined on (run, strategy, scorer, n); NaN for rows without them
    (generation strategies' budget points, runs without samples)."""
    cols = [c for c in costs.columns if c not in ("run", "strategy", "scorer", "n")]
    if costs.empty:
        return table.assign(**{c: np.nan for c in ("eflops_per_problem", "memory_bytes_per_problem",
                                                    "request_seconds_per_problem", "token_dollars_per_problem")})
    key = lambda df: df["run"].astype(str) + "|" + df["strategy"].astype(str) + "|" + \
        df["scorer"].map(lambda s: "" if s is None or s != s else str(s)) + "|" + df["n"].astype(int).astype(str)  # noqa: E731
    joined = costs.assign(_key=key(costs)).drop_duplicates("_key").set_index("_key")[cols]
    out = table.drop(columns=[c for c in cols if c in table.columns])
    keys = key(out.assign(n=out["n"].fillna(0)))
    keys = keys.where(out["budget"].isna(), "")   # a generation strategy's budget point has none of these
    for c in cols:
        out[c] = keys.map(joined[c]).astype(float)
    return out


def available(table: pd.DataFrame) -> list[str]:
    """The costs the table has a figure for (some finite value)."""
    return [name for name, (col, _) in COSTS.items()
            if col in table and np.isfinite(table[col].astype(float)).any()]


def cost_frontiers(table: pd.DataFrame) -> pd.DataFrame:
    """The Pareto frontier under each available cost (oracles left out), one block per cost: cost, benchmark, model,
    strategy, scorer, n, accuracy, ci_low, ci_high and that cost's value per problem (`cost_per_problem`)."""
    frames = []
    for name in available(table):
        col = COSTS[name][0]
        f = frontier(table[np.isfinite(table[col].astype(float))], x=col)
        if len(f):
            frames.append(f.assign(cost=name, cost_per_problem=f[col]))
    if not frames:
        return pd.DataFrame()
    keep = ["cost", "benchmark", "model", "run", "strategy", "scorer", "n", "accuracy", "ci_low", "ci_high",
            "cost_per_problem"]
    return pd.concat(frames, ignore_index=True)[keep]


def cell_label(row) -> str:
    """"model · strategy (scorer) @ n", one cell of the table."""
    return f"{row['model']} · {label(row['strategy'], row['scorer'])} @ {int(row['n'])}"


def cost_choices(table: pd.DataFrame, *, tolerance: float = 1e-9) -> pd.DataFrame:
    """At every accuracy some cost's frontier reaches, the cheapest cell reaching it under each cost, and whether
    all costs choose the same cell.

    Returns:
        One row per (benchmark, target accuracy): a column per available cost with the chosen cell (or "not reached"
        among the cells that have that cost), and `agree`.

    Example:
        cost_choices(analysis.table).query("~agree")
    """
    costs = available(table)
    front = cost_frontiers(table)
    rows = []
    if front.empty:
        return pd.DataFrame()
    t = table[~table["oracle"].astype(bool)]
    for bench, f in front.groupby("benchmark", sort=False):
        b = t[t["benchmark"] == bench]
        labels = {i: cell_label(r) for i, r in b.iterrows()}
        for target in sorted(set(f["accuracy"].round(12))):
            row = {"benchmark": bench, "target_accuracy": target}
            cheapest = {}
            for name in costs:
                col = COSTS[name][0]
                ok = b[np.isfinite(b[col].astype(float)) & (b["accuracy"] >= target - tolerance)]
                if len(ok):   # cells costing the same (n = 1 of any strategy is one sample) are one choice
                    v = ok[col].astype(float)
                    cheapest[name] = list(ok.index[v <= v.min() * (1 + 1e-9)])
            common = set.intersection(*(set(c) for c in cheapest.values())) if cheapest else set()
            for name in costs:
                tied = cheapest.get(name)
                pick = next((i for i in tied if i in common), tied[0]) if tied else None
                row[name] = labels[pick] if pick is not None else "not reached"
            row["agree"] = bool(common) or len(cheapest) <= 1
            rows.append(row)
    return pd.DataFrame(rows)


def disagreement_notes(choices: pd.DataFrame) -> list[str]:
    """One line per benchmark on where the costs choose differently (the largest disagreeing target as example)."""
    notes = []
    if choices.empty:
        return notes
    for bench, c in choices.groupby("benchmark", sort=False):
        costs = [k for k in COSTS if k in c.columns]
        bad = c[~c["agree"]]
        if bad.empty:
            notes.append(f"{bench}: every cost ({', '.join(costs)}) chooses the same cell at all {len(c)} accuracy "
                         "targets")
            continue
        top = bad.iloc[-1]
        picks = "; ".join(f"{k}: {top[k]}" for k in costs)
        notes.append(f"{bench}: the costs choose differently at {len(bad)} of {len(c)} accuracy targets; e.g. for "
                     f"accuracy >= {top['target_accuracy']:.1%}: {picks}")
    return notes


def weights_note(model: CostModel) -> str:
    """What the eFLOPs figures assumed, for the notes."""
    dev = device(model.device)
    batch = "weights amortised away (Kinetics)" if model.batch is None else f"weights read once per step of " \
        f"{model.batch:g} sequences"
    share = "the prompt's KV read once per step for a problem's samples decoded together" if model.prefix_sharing \
        else "no prefix sharing"
    return (f"eFLOPs = FLOPs + {dev.intensity:.3g} FLOP/byte ({dev.name}) x bytes read: {batch}; {share}; "
            f"{dev.dtype_bytes}-byte weights and KV cache")


__all__ = ["COSTS", "CostModel", "cell_costs", "add_costs", "cost_frontiers", "cost_choices", "disagreement_notes",
           "weights_note", "facts_of"]
