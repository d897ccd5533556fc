"""What the scorer tests share: one problem and four completions of it (two steps, three steps, an answer alone, an
empty text), and where the real SmolLM2-135M's folder is."""

from benchmarks.base import Problem
from testtime.models import cache_dir
from testtime.sampler import Completion

SMOLLM = cache_dir() / "models" / "smollm2-135m"
PROBLEM = Problem(id="t/0", prompt="What is 1 + 1? Put the answer in \\boxed{}.", gold="2")
TEXTS = ["First, 1 + 1 = 2.\n\nSo the answer is \\boxed{2}.",
         "One plus one is three.\n\nThen add nothing.\n\n\\boxed{3}",
         "\\boxed{2}",
         ""]


def completion(text="", top=(), tokens=()):
    return Completion(text=text, n_tokens=max(len(tokens), len(top)), prompt_tokens=10,
                      logprob=sum(tokens) if tokens else None, finish_reason="stop", token_logprobs=tuple(tokens),
                      top_logprobs=tuple(tuple(t) for t in top))


COMPLETIONS = [completion(t) for t in TEXTS]
