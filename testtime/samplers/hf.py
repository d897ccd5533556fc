"""The transformers backend: `model.generate` with `num_return_sequences=n`, for models or machines vLLM does not
serve. Much slower than vLLM (no paged attention or continuous batching), but the same records: the prompt is
encoded once per problem, and each sample's token logprobs come from `compute_transition_scores`.

Example:
    sampler = HFSampler(model_path=path, engine=EngineConfig(), seed=0)
    [[c0, c1]] = sampler.generate(["What is 2+2?"], Sampling(n=2, max_tokens=64))
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

from testtime.sampler import Completion, Sampling, chat_text, continuation_ids, request_seed
from testtime.samplers.transformers_models import Loaded
from testtime.config import EngineConfig
from testtime.models import ModelFacts


class HFSampler:
    def __init__(self, *, model_path: Path, engine=None, seed: int = 0):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.seed = seed
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        engine = engine or EngineConfig()
        dtype = engine.dtype
        if dtype == "auto":
            dtype = "bfloat16" if self.device == "cuda" else "float32"
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype)).to(self.device)
        self.model.eval()
        self.facts = ModelFacts.from_folder(Path(model_path))
        self.loaded = Loaded(model=self.model, tokenizer=self.tokenizer, facts=self.facts, device=self.device)
        self.batch = max(1, engine.max_num_seqs or 64)
        # For progress displays: lengths of finished samples; caps of those in the generate call now running.
        self._finished: list[int] = []
        self._running: list[int] = []

    def describe(self) -> dict:
        import transformers

        return {"backend": "hf", "transformers": transformers.__version__, "device": self.device,
                "dtype": str(self.model.dtype), "max_sequences_per_generate": self.batch}

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    prefix_block = 1   # no prefix cache: every request reports cached_tokens = 0, so this never applies

    def chat_prompt(self, prompt: str) -> str:
        return chat_text(self.tokenizer, prompt)

    def close(self) -> None:
        """Drop the model now."""
        import gc

        self.__dict__.pop("model", None)
        self.__dict__.pop("loaded", None)
        gc.collect()

    def stream(self, prompts: Sequence[str], sampling: Sampling | Sequence[Sampling], *, raw: bool = False
               ) -> Iterator[tuple[int, list[Completion]]]:
        each = [sampling] * len(prompts) if isinstance(sampling, Sampling) else list(sampling)
        for i, (prompt, s) in enumerate(zip(prompts, each)):
            yield i, self._complete(prompt if raw else self.chat_prompt(prompt), s)

    def generate(self, prompts: Sequence[str], sampling: Sampling | Sequence[Sampling], *, raw: bool = False
                 ) -> list[list[Completion]]:
        return [c for _, c in self.stream(prompts, sampling, raw=raw)]

    def _complete(self, text: str, sampling: Sampling) -> list[Completion]:
        torch = self.torch
        enc = self.tokenizer(text, return_tensors="pt", add_special_tokens=False).to(self.device)
        prompt_len = enc.input_ids.shape[1]
        out: list[Completion] = []
        if sampling.seed is not None:   # as a seeded vLLM request: from the seed and the text
            # One generator for the request's n samples (not one per sample, as vLLM): a block of a grown pool
            # (first_index > 0) draws new samples, but not those one larger request would have drawn.
            torch.manual_seed(request_seed(sampling, text))
        greedy = sampling.temperature == 0
        while len(out) < sampling.n:
            k = min(self.batch, sampling.n - len(out))
            kwargs = dict(max_new_tokens=sampling.max_tokens, min_new_tokens=sampling.min_tokens,
                          num_return_sequences=k, do_sample=not greedy,
                          return_dict_in_generate=True, output_scores=True,
                          pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id)
            if not greedy:
                kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p,
                              top_k=sampling.top_k if sampling.top_k > 0 else 0)
            if sampling.stop:
                kwargs.update(stop_strings=list(sampling.stop), tokenizer=self.tokenizer)
            self._running = [sampling.max_tokens] * k
            with torch.no_grad():
                gen = self.model.generate(**enc, **kwargs)
            self._running = []
            # Logprobs of the sampled tokens under the sampling distribution (after temperature / top-p), as vLLM.
            scores = self.model.compute_transition_scores(gen.sequences, gen.scores, normalize_logits=True)
            eos = set(_as_list(self.model.generation_config.eos_token_id)) | {self.tokenizer.eos_token_id}
            for seq, lps in zip(gen.sequences[:, prompt_len:].tolist(), scores.tolist()):
                n_tokens, finish = len(seq), "length"
                for j, tok in enumerate(seq):
                    if tok in eos:
                        n_tokens, finish = j, "stop"
                        break
                tokens = seq[:n_tokens]
                text_out = self.tokenizer.decode(tokens, skip_special_tokens=True)
                hit = None
                for s in sampling.stop:
                    if s in text_out:
                        text_out, finish, hit = text_out.split(s, 1)[0], "stop", s
                token_lps = tuple(float(x) for x in lps[:n_tokens])
                out.append(Completion(text=text_out, n_tokens=n_tokens, prompt_tokens=prompt_len,
                                      logprob=sum(token_lps), finish_reason=finish, token_logprobs=token_lps,
                                      stop_string=hit, cached_tokens=0))   # generate keeps no cache between calls
                self._finished.append(n_tokens)
        return out

    def continuation_logprobs(self, prompts: Sequence[str], continuations: Sequence[str], *, prefix: str = ""
                              ) -> list[list[float]]:
        """Logprob of each token of each continuation after the chat-formatted prompt and the assistant `prefix`
        (one forward pass per prompt, raw model distribution)."""
        torch = self.torch
        out = []
        for p, c in zip(prompts, continuations):
            ids, start = continuation_ids(self.tokenizer, self.chat_prompt(p) + prefix, c)
            x = torch.tensor([ids], device=self.device)
            with torch.no_grad():
                lp = self.model(input_ids=x).logits[0, start - 1:-1].float().log_softmax(-1)
            out.append(lp.gather(1, x[0, start:, None])[:, 0].tolist())
        return out

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    @property
    def compute_bound(self) -> bool:
        """A decode step's time grows with its batch on a CPU (the ETA's hint, testtime.sampler.EngineProgress)."""
        return self.device == "cpu"

    def tokens_generated(self) -> int:
        """Tokens of the samples finished so far; `generate` shows none before it returns
        (testtime.sampler.EngineProgress)."""
        return sum(self._finished)

    def sequences(self) -> tuple[list[int], list[tuple[int, int]], list[int]]:
        """Finished lengths, and the samples of the running `generate` call at 0 tokens of their max_tokens
        (testtime.sampler.EngineProgress)."""
        return list(self._finished), [(0, cap) for cap in self._running], []


def _as_list(x) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]
