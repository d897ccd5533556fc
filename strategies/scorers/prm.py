"""Process reward model (PRM): score every step of a solution, then aggregate the step scores into one.

Steps are the solution's paragraphs (split on blank lines by default). Two conventions of public PRMs:
    "separator"  Qwen2.5-Math-PRM (Zhang et al. 2025, arXiv:2501.07301): a step-separator token ("<extra_0>")
                 after each step of the assistant turn; a token classifier with two labels; a step's score is
                 P(label 1) at its separator. Loaded with AutoModelForTokenClassification (or AutoModel when the
                 model's remote code registers only that; set trust_remote_code).
    "tags"       Math-Shepherd (Wang et al. 2024, arXiv:2312.08935): a causal LM; "question steps" in plain text,
                 a tag ("ки") after each step; a step's score is P("+") of the softmax over the "+"/"-" logits
                 at the tag.
Aggregates: min (Math-Shepherd), prod (Lightman et al. 2023), last (Snell et al. 2024), mean. A sample without
steps scores NaN. Each sample costs one prefill of the PRM over the formatted sequence (`flops`).

Example:
    prm = ProcessRewardScorer(model="Qwen/Qwen2.5-Math-PRM-7B", trust_remote_code=True, aggregate="min")
    prm.bind(engines).score(problem, completions)       # one score in [0, 1] per completion
    split_steps("a\\n\\nb")                # ["a", "b"]
    aggregate([0.9, 0.5, 0.8], "min")    # 0.5
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Sequence

from testtime.errors import UserError
from testtime.flops import prefill_flops
from testtime.registry import register
from testtime.sampler import Engines, PositionLogits, chat_text, encode, single_token

STYLES = {"separator": "<extra_0>", "tags": "ки"}
AGGREGATES = ("min", "last", "prod", "mean")


def split_steps(text: str, sep: str = "\n\n") -> list[str]:
    """The solution's steps: `text` split on `sep`, each stripped, empty ones dropped."""
    return [s.strip() for s in text.split(sep) if s.strip()]


def aggregate(step_scores: Sequence[float], how: str) -> float:
    """One score from a solution's step scores: "min", "last", "prod" or "mean"; NaN when there are no steps."""
    if how not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}; got {how!r}")
    if not step_scores:
        return math.nan
    return float({"min": min, "last": lambda s: s[-1], "prod": math.prod,
                  "mean": lambda s: sum(s) / len(s)}[how](list(step_scores)))


@register("scorer", "prm")
@dataclass(frozen=True)
class ProcessRewardScorer:
    name: ClassVar[str] = "prm"
    reads_gold: ClassVar[bool] = False
    model: str | None = None
    """The PRM: built-in name, local folder or Hugging Face repo id (config `scorer_model`)."""
    style: str = "separator"
    """"separator" (Qwen2.5-Math-PRM) or "tags" (Math-Shepherd); see the module docstring."""
    aggregate: str = "min"
    """How step scores become one: min | last | prod | mean."""
    step_sep: str = "\n\n"
    """What separates steps in a sample's text."""
    step_tag: str | None = None
    """The token placed after each step; None: "<extra_0>" for separator, "ки" for tags."""
    good_label: int = 1
    """separator: the classifier label of a good step."""
    good_token: str = "+"
    """tags: the token whose probability is a good step's."""
    bad_token: str = "-"
    """tags: the token it is weighed against."""
    batch_size: int = 8
    """Samples per forward pass."""
    trust_remote_code: bool = False
    """Allow the model's own modelling code (Qwen2.5-Math-PRM needs it); only for models you trust."""

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise UserError(f"prm: style must be one of {', '.join(STYLES)}; got {self.style!r}")
        if self.aggregate not in AGGREGATES:
            raise UserError(f"prm: aggregate must be one of {', '.join(AGGREGATES)}; got {self.aggregate!r}")
        if self.batch_size < 1 or not self.step_sep:
            raise UserError("prm: batch_size must be >= 1 and step_sep non-empty")

    def bind(self, engines: Engines) -> "_Bound":
        """Load the PRM now (before sampling), so a bad name fails early; the policy is not used."""
        if not self.model:
            raise UserError("prm needs a process reward model: set scorer_model to a folder or Hugging Face repo id")
        return _Bound(self, engines.position_scorer(self.model, causal_lm=self.style == "tags",
                                                    batch_size=self.batch_size,
                                                    trust_remote_code=self.trust_remote_code))


@dataclass(frozen=True)
class _Bound:
    config: ProcessRewardScorer
    prm: PositionLogits

    def score(self, problem, completions: Sequence) -> list[float]:
        return [aggregate(s, self.config.aggregate) for s in self.step_scores(problem, completions)]

    def step_scores(self, problem, completions: Sequence) -> list[list[float]]:
        """Each sample's step scores in [0, 1], one per step, in order."""
        seqs, where = self._sequences(problem, completions)
        if not seqs:
            return []
        if self.config.style == "separator":
            rows = self.prm.position_logits(seqs, where)
            return [[_good_probability(v, self.config.good_label) for v in row] for row in rows]
        tok = self.prm.tokenizer
        good, bad = single_token(tok, self.config.good_token), single_token(tok, self.config.bad_token)
        if good is None or bad is None:
            raise UserError(f"prm: good_token {self.config.good_token!r} and bad_token {self.config.bad_token!r} "
                            "must each be one token of the PRM's tokenizer")
        rows = self.prm.position_logits(seqs, where, [good, bad])
        return [[_softmax(v)[0] for v in row] for row in rows]

    def flops(self, problem, completions: Sequence) -> list[float]:
        """One prefill of the PRM over each formatted sample."""
        return [float(prefill_flops(self.prm.facts, len(s))) for s in self._sequences(problem, completions)[0]]

    def _sequences(self, problem, completions: Sequence) -> tuple[list[list[int]], list[list[int]]]:
        """Token ids per sample and the positions of its step tags (one per step)."""
        cfg, tok = self.config, self.prm.tokenizer
        tag = cfg.step_tag or STYLES[cfg.style]
        tag_id = tok.encode(tag, add_special_tokens=False)[-1]   # as Math-Shepherd: the tag's last token
        seqs, where = [], []
        for c in completions:
            # The tag marks our step ends only: any copy of it in the texts is removed first.
            steps = [s.replace(tag, "") for s in split_steps(c.text, cfg.step_sep)]
            if cfg.style == "separator":
                ids = encode(tok, chat_text(tok, problem.prompt.replace(tag, ""), "".join(s + tag for s in steps)))
            else:
                text = problem.prompt.replace(tag, "") + " " + "\n".join(f"{s} {tag}" for s in steps)
                ids = tok.encode(text)   # plain text with BOS, as Math-Shepherd was trained
            pos = [i for i, t in enumerate(ids) if t == tag_id]
            if len(pos) != len(steps):
                raise UserError(f"prm: step_tag {tag!r} does not tokenize as a token of its own in this PRM's "
                                f"tokenizer ({len(pos)} found for {len(steps)} steps); set step_tag to its token")
            seqs.append(ids)
            where.append(pos)
        return seqs, where


def _softmax(v: Sequence[float]) -> list[float]:
    m = max(v)
    e = [math.exp(x - m) for x in v]
    return [x / sum(e) for x in e]


def _good_probability(label_logits: Sequence[float], good_label: int) -> float:
    """P(good) at a step tag: softmax over the labels, or the sigmoid of a single logit."""
    if len(label_logits) > 1:
        return _softmax(label_logits)[good_label]
    return 1.0 / (1.0 + math.exp(-label_logits[0]))
