"""testtime/samplers/vllm_topp.py against vLLM's own CPU top-k/top-p (`apply_top_k_top_p_pytorch`) on random rows:
peaked and flat ones (the flat ones exceed the K largest logits read and take vLLM's path), with and without top-k,
and rows with p = 1 beside rows with p < 1 in one batch."""

import pytest

torch = pytest.importorskip("torch")
topk_topp = pytest.importorskip("vllm.v1.sample.ops.topk_topp_sampler")

from testtime.samplers.vllm_topp import install, top_k_top_p  # noqa: E402

V, B = 4000, 96


def vllm_mask(x, k, p):
    return topk_topp.apply_top_k_top_p_pytorch(x.clone(), None if k is None else k.clone(), p.clone(),
                                               allow_cpu_sync=True)


def rows(seed: int):
    g = torch.Generator().manual_seed(seed)
    scale = torch.linspace(0.3, 14.0, B)[:, None]                 # from nearly uniform to one dominant token
    return torch.randn(B, V, generator=g) * scale


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("with_k", [False, True])
def test_same_tokens_kept_as_vllm(seed, with_k):
    x = rows(seed)
    p = torch.full((B,), 0.95)
    p[1::3] = 0.7
    p[::10] = 1.0
    k = None
    if with_k:
        k = torch.full((B,), V, dtype=torch.long)
        k[::4], k[1::9] = 20, 50
    ours = top_k_top_p(x.clone(), k, p, K=64)
    theirs = vllm_mask(x, k, p)
    kept_ours, kept_theirs = torch.isfinite(ours), torch.isfinite(theirs)
    below = p < 1
    assert torch.equal(kept_ours[below], kept_theirs[below])
    assert torch.equal(ours[kept_ours & kept_theirs], x[kept_ours & kept_theirs])   # kept logits unchanged
    # p = 1: the same, but for tokens vLLM drops because their float32 probability is 0 (never sampled either way)
    extra = kept_ours[~below] & ~kept_theirs[~below]
    assert not (kept_theirs[~below] & ~kept_ours[~below]).any()
    probs = torch.softmax(x[~below], dim=-1)
    assert (probs[extra] == 0).all()
    # Some rows were flat enough to need vLLM's path, some were decided from their 64 largest logits
    mass64 = torch.softmax(x, -1).topk(64, -1).values.sum(-1)
    assert (mass64 < p).any() and (mass64 >= p).any()


def test_top_p_set_by_hand():
    # probabilities 0.5, 0.3, 0.15, 0.05: p = 0.8 keeps the tokens with less than 0.8 ranked above: 0.5 and 0.3
    x = torch.tensor([[0.15, 0.5, 0.05, 0.3]]).log()
    out = top_k_top_p(x.clone(), None, torch.tensor([0.8]), K=4)
    assert torch.isfinite(out).tolist() == [[False, True, False, True]]
    out = top_k_top_p(x.clone(), None, torch.tensor([0.81]), K=4)     # 0.8 < 0.81: the third one too
    assert torch.isfinite(out).tolist() == [[True, True, False, True]]


def test_install_replaces_vllm_function_once(monkeypatch):
    monkeypatch.setattr(topk_topp, "apply_top_k_top_p", topk_topp.apply_top_k_top_p)
    monkeypatch.setenv("TESTTIME_VLLM_TOPP", "0")
    assert not install()
    monkeypatch.setenv("TESTTIME_VLLM_TOPP", "1")
    assert install() and topk_topp.apply_top_k_top_p._testtime
    assert install()
    x = rows(3)[:4]
    assert torch.equal(topk_topp.apply_top_k_top_p(x, None, None), x)
