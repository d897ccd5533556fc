"""A scripted sampler for tests and dry runs: no model, deterministic output.

Each completion is "... \\boxed{k}" with k drawn from a seeded generator keyed by the prompt and sample index, so
the same prompt gives the same samples in any batch. `script` maps a prompt to fixed texts instead. The environment
variable TESTTIME_FAKE_DELAY (seconds per prompt) slows it down so tests can interrupt a run mid-way, and
TESTTIME_FAKE_DIE_AFTER=k makes its "engine" die after k prompts (EngineDied), as a real one can mid-run.
"""

from __future__ import annotations

import os
import time
import zlib
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from testtime.sampler import Completion, EngineDied, Sampling


class FakeSampler:
    def __init__(self, *, model_path: Path | None = None, engine=None, seed: int = 0,
                 script: dict[str, list[str]] | None = None, answers: int = 4):
        self.seed = seed
        self.script = script or {}
        self.answers = answers
        self.delay = float(os.environ.get("TESTTIME_FAKE_DELAY", "0"))
        self.die_after = int(os.environ.get("TESTTIME_FAKE_DIE_AFTER", "-1"))
        self._prompts = 0
        self._finished: list[int] = []   # lengths of the completions made, for progress displays

    vocab_size = None   # no tokenizer

    def describe(self) -> dict:
        return {"backend": "fake", "seed": self.seed}

    def close(self) -> None:
        pass

    def stream(self, prompts: Sequence[str], sampling: Sampling | Sequence[Sampling], *, raw: bool = False
               ) -> Iterator[tuple[int, list[Completion]]]:
        each = [sampling] * len(prompts) if isinstance(sampling, Sampling) else list(sampling)
        for i, (prompt, s) in enumerate(zip(prompts, each)):
            if self.delay:
                time.sleep(self.delay)
            if self._prompts == self.die_after:
                raise EngineDied(f"fake engine died after {self._prompts} prompts (TESTTIME_FAKE_DIE_AFTER)")
            self._prompts += 1
            yield i, self._complete(prompt, s)

    def generate(self, prompts: Sequence[str], sampling: Sampling | Sequence[Sampling], *, raw: bool = False
                 ) -> list[list[Completion]]:
        return [c for _, c in self.stream(prompts, sampling, raw=raw)]

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    compute_bound = None   # no engine: nothing to hint

    def tokens_generated(self) -> int:
        """Tokens of the completions made so far (testtime.sampler.EngineProgress)."""
        return sum(self._finished)

    def sequences(self) -> tuple[list[int], list[tuple[int, int]], list[int]]:
        """Lengths of the completions made so far; nothing is ever running (testtime.sampler.EngineProgress)."""
        return list(self._finished), [], []

    def continuation_logprobs(self, prompts: Sequence[str], continuations: Sequence[str], *, prefix: str = ""
                              ) -> list[list[float]]:
        """Seeded made-up logprobs, one per whitespace word of each continuation (at least one)."""
        out = []
        for p, c in zip(prompts, continuations):
            rng = np.random.default_rng([self.seed, zlib.crc32((p + prefix + c).encode())])
            out.append([float(x) for x in -rng.exponential(1.0, max(1, len(c.split())))])
        return out

    def chat_prompt(self, prompt: str) -> str:
        return f"<user>{prompt}</user><assistant>"

    def _complete(self, prompt: str, sampling: Sampling) -> list[Completion]:
        rng = np.random.default_rng([self.seed, sampling.seed or 0, zlib.crc32(prompt.encode())])
        prompt_tokens = len(prompt.split())
        texts = self.script.get(prompt)
        out = []
        for k in range(sampling.n):
            # Half the samples take a step first ("...\n\n"), so step-wise strategies see steps and endings.
            step = "Let me think.\n\n" if rng.random() < 0.5 else ""
            text = texts[k % len(texts)] if texts else f"{step}The answer is \\boxed{{{rng.integers(self.answers)}}}"
            hit = next((s for s in sampling.stop if s in text), None)
            if hit is not None:  # cut at the first stop string, as an engine would
                text = text.split(hit, 1)[0]
            wanted = len(text.split()) + int(rng.integers(0, 20))
            n_tokens = min(wanted, sampling.max_tokens)
            if n_tokens < wanted:  # cut at max_tokens
                text, hit = " ".join(text.split()[:n_tokens]), None
            lps = tuple(float(x) for x in -rng.exponential(0.5, n_tokens))
            out.append(Completion(text=text, n_tokens=n_tokens, prompt_tokens=prompt_tokens, logprob=sum(lps),
                                  finish_reason="stop" if n_tokens == wanted else "length", token_logprobs=lps,
                                  stop_string=hit))
        self._finished.extend(c.n_tokens for c in out)
        return out
