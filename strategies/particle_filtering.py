"""Particle filtering over solution steps (Puri et al. 2025, "A Probabilistic Inference Approach to Inference-Time
Scaling of LLMs using Particle-Based Monte Carlo Methods", arXiv:2502.01618, section 3, Algorithm 1; reference
code Red-Hat-AI-Innovation-Team/its_hub, `ParticleFiltering`).

A budget of N particles per problem. Each round, every unfinished particle generates its next step (text up to the
step delimiter, beam_search's conventions: strategies/steps.py) and the step scorer (prm, self_verify) scores its
partial solution; a finished particle keeps its last reward. All N particles are then weighted by
softmax(g(r) / temperature), g(r) = log(r / (1 - r)) (its_hub's log-odds of a reward in [0, 1]; with `log_odds:
false`, or rewards outside [0, 1] such as logprob, g(r) = r), and N particles are drawn from those weights with
replacement (multinomial resampling); copies of one particle continue independently (one request, n = copies).
The search ends when every particle is finished, or after `max_steps` rounds (the unfinished compete as they
are). The answer: the particle with the largest reward (its_hub's argmax), or `select: vote`, a weighted majority
over the final particles by their resampling weights.

Spend: every generated step of every particle at its own context position, and every scorer pass.

Example:
    pf = ParticleFiltering(temperature=1.0)
    for i, [best] in pf.stream(sampler, problems, Sampling(max_tokens=256), budget=8, scorer=self_verify): ...
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import ClassVar, Iterator, Sequence

import numpy as np

from strategies.base import BoundScorer, check_positive
from strategies.steps import Node, Tally, completion, extend, score
from strategies.voting import answer_classes, weighted_vote
from testtime.registry import register
from testtime.sampler import Completion, Sampler, Sampling


@register("strategy", "particle_filtering")
@dataclass(frozen=True)
class ParticleFiltering:
    kind: ClassVar[str] = "generation"
    name: ClassVar[str] = "particle_filtering"
    budget_unit: ClassVar[str] = "particles"
    revision: ClassVar[int] = 2
    """2: every request seeded by its node, a cut step continues, continuations charged their prefill."""
    independent_samples: ClassVar[bool] = False
    grid_select: ClassVar[tuple[str, ...]] = ()
    scorer: str = "self_verify"
    """Step scorer: any scorer that scores a partial solution (prm with aggregate "last", self_verify)."""
    temperature: float = 1.0
    """Softmax temperature of the resampling weights (its_hub's default 1)."""
    log_odds: bool = True
    """Rewards in [0, 1] enter the softmax as log-odds (its_hub); false: as they are."""
    select: str = "argmax"
    """The answer: argmax (the largest final reward) or vote (weighted majority by the final weights)."""
    step_delimiter: str = "\n\n"
    max_step_tokens: int = 128
    max_steps: int = 8

    def __post_init__(self) -> None:
        if self.temperature <= 0 or self.select not in ("argmax", "vote") or min(self.max_steps,
                                                                              self.max_step_tokens) < 1:
            raise ValueError("particle_filtering: temperature must be > 0, select argmax or vote, max_steps and "
                             "max_step_tokens >= 1")

    def check_budget(self, budget: int) -> None:
        check_positive(self.name, budget, "particles")

    def stream(self, sampler: Sampler, problems: Sequence, sampling: Sampling, *, budget: int,
               scorer: BoundScorer | None = None) -> Iterator[tuple[int, list[Completion]]]:
        """Filter N = `budget` particles per problem; yield (index, [the chosen particle])."""
        self.check_budget(budget)
        if scorer is None:
            raise ValueError(f"{self.name} needs a step scorer (scorer={self.scorer!r})")
        heads = [sampler.chat_prompt(p.prompt) for p in problems]
        prompt_tokens = [sampler.count_tokens(h) for h in heads]
        rngs = [np.random.default_rng([sampling.seed or 0, zlib.crc32(p.id.encode())]) for p in problems]
        particles = [[Node(problem=i) for _ in range(budget)] for i in range(len(problems))]
        tally = [Tally() for _ in problems]
        for _ in range(self.max_steps):
            # Copies of one particle share a request: group the live particles by (problem, text).
            groups: dict[tuple[int, str], list[int]] = {}
            for i, ps in enumerate(particles):
                for k, p in enumerate(ps):
                    if not p.done:
                        groups.setdefault((i, p.text), []).append(k)
            if not groups:
                break
            parents = [particles[i][ks[0]] for (i, _), ks in groups.items()]
            children = extend(sampler, heads, prompt_tokens, parents, [len(ks) for ks in groups.values()], sampling,
                              tally=tally, delimiter=self.step_delimiter, max_step_tokens=self.max_step_tokens)
            for ((i, _), ks), kids in zip(groups.items(), children):
                for k, kid in zip(ks, kids):
                    particles[i][k] = kid
            score(scorer, problems, prompt_tokens, [c for kids in children for c in kids], tally)
            for i, ps in enumerate(particles):
                if any(not p.done for p in ps):   # resample while the problem still has live particles
                    probs = resampling_probabilities([p.score for p in ps], temperature=self.temperature,
                                                     log_odds=self.log_odds)
                    particles[i] = [ps[k].copy() for k in rngs[i].choice(len(ps), size=budget, p=probs)]
        for i, problem in enumerate(problems):
            ps = [p for p in particles[i] if p.done] or particles[i]   # unfinished ones only if nothing ended
            rewards = np.array([p.score if p.score == p.score else -np.inf for p in ps])
            pick = None
            if self.select == "vote":
                weights = resampling_probabilities([p.score for p in ps], temperature=self.temperature,
                                                   log_odds=self.log_odds)
                pick = weighted_vote(answer_classes(problem, [p.text for p in ps]), list(weights))
            best = ps[int(np.argmax(rewards)) if pick is None else pick]
            yield i, [completion(best, tally[i], prompt_tokens[i],
                                 {"budget": budget, "particles": len(particles[i]),
                                  "distinct_particles": len({p.text for p in particles[i]})})]


def resampling_probabilities(rewards: Sequence[float], *, temperature: float = 1.0, log_odds: bool = True
                             ) -> np.ndarray:
    """softmax(g(r) / temperature) over the particles; NaN rewards weigh 0 (all NaN: uniform).

    Example:
        resampling_probabilities([0.5, 0.75], log_odds=True)    # log-odds 0 and log 3: [0.25, 0.75]
    """
    r = np.asarray(rewards, float)
    finite = np.isfinite(r)
    if log_odds and np.all((r[finite] >= 0) & (r[finite] <= 1)):
        c = np.clip(r, 1e-7, 1 - 1e-7)   # its_hub's clip: a reward of exactly 0 or 1 stays finite
        r = np.log(c) - np.log1p(-c)
    if not finite.any():
        return np.full(r.size, 1.0 / r.size)
    z = np.where(finite, r / temperature, -np.inf)
    w = np.exp(z - z[finite].max())
    return w / w.sum()
