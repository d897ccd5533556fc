"""testtime/samplers/vllm.py without an engine: the engine arguments for each platform, by hand."""

from testtime import samplers
from testtime.config import EngineConfig
from testtime.samplers.vllm import CPU_KV_SHARE, cpu_has_bf16, engine_kwargs, kv_bytes_per_token

SMOLLM = samplers.fake_facts()          # SmolLM2-135M: 30 layers, 3 KV heads of 64
GIB = 2**30


def test_kv_bytes_per_token_by_hand():
    assert kv_bytes_per_token(SMOLLM) == 2 * 30 * 3 * 64 * 4 == 46_080       # keys and values, float32


def test_cpu_kv_cache_holds_the_batch():
    kw = engine_kwargs(EngineConfig(), on_cpu=True, facts=SMOLLM, max_tokens=256, available=22 * GIB,
                       bf16=False)
    # 512 sequences (a 135M model) of 256 tokens plus two 32-token blocks each
    assert (kw["max_num_seqs"], kw["block_size"], kw["max_num_batched_tokens"]) == (512, 32, 2048)
    assert kw["kv_cache_memory_bytes"] == (512 * (256 + 64) + 32) * 46_080     # + the block vLLM keeps back
    assert kw["prefill_first"] and kw["dtype"] == "float32" and kw["enforce_eager"]


def test_cpu_batch_shrinks_to_the_memory_there_is():
    available = 4 * GIB
    kw = engine_kwargs(EngineConfig(), on_cpu=True, facts=SMOLLM, max_tokens=256, available=available, bf16=False)
    room_tokens = int(CPU_KV_SHARE * (available - SMOLLM.params * 4)) // 46_080
    assert kw["max_num_seqs"] == room_tokens // 320 == 127
    assert kw["kv_cache_memory_bytes"] == (127 * 320 + 32) * 46_080 <= CPU_KV_SHARE * available


def test_cpu_batch_by_model_size_and_explicit_settings_win():
    qwen_05b = SMOLLM.__class__(**{**SMOLLM.__dict__, "non_embedding_params": 357_000_000})
    qwen_15b = SMOLLM.__class__(**{**SMOLLM.__dict__, "non_embedding_params": 1_310_000_000})
    assert engine_kwargs(EngineConfig(), on_cpu=True, facts=qwen_05b)["max_num_seqs"] == 128
    assert engine_kwargs(EngineConfig(), on_cpu=True, facts=qwen_15b)["max_num_seqs"] == 64
    kw = engine_kwargs(EngineConfig(max_num_seqs=8, block_size=128, kv_cache_tokens=10_000, prefill_first=False),
                       on_cpu=True, facts=SMOLLM, max_tokens=256, available=22 * GIB, bf16=False)
    assert (kw["max_num_seqs"], kw["block_size"], kw["prefill_first"]) == (8, 128, False)
    assert kw["kv_cache_memory_bytes"] == 10_000 * 46_080


def test_vllms_own_kv_rule_and_unknown_lengths_leave_the_cache_to_vllm():
    for kw in (engine_kwargs(EngineConfig(kv_cache_tokens=0), on_cpu=True, facts=SMOLLM, max_tokens=256),
               engine_kwargs(EngineConfig(), on_cpu=True, facts=SMOLLM)):
        assert "kv_cache_memory_bytes" not in kw and kw["gpu_memory_utilization"] == 0.4


def test_gpu_defaults_unchanged():
    kw = engine_kwargs(EngineConfig(), on_cpu=False, facts=SMOLLM, max_tokens=256)
    assert kw == {"dtype": "auto", "tensor_parallel_size": 1, "enable_prefix_caching": True, "max_model_len": 4096,
                  "max_num_seqs": 4096, "max_num_batched_tokens": 8192, "gpu_memory_utilization": 0.9,
                  "enforce_eager": False, "prefill_first": False}


def test_cpu_kv_cache_holds_at_least_one_sequence_of_max_model_len():
    """vLLM refuses to start a cache smaller than one max_model_len sequence (2 slots x 320 < 1024 tokens), and
    keeps one block of it back (measured: 1024 tokens of cache gave "estimated maximum model length is 992")."""
    kw = engine_kwargs(EngineConfig(max_num_seqs=2, max_model_len=1024), on_cpu=True, facts=SMOLLM, max_tokens=256,
                       available=22 * GIB, bf16=False)
    assert kw["max_num_seqs"] == 2 and kw["kv_cache_memory_bytes"] == (1024 + 32) * 46_080


def test_bf16_where_the_cpu_computes_it_halves_the_kv_cache(tmp_path):
    kw = engine_kwargs(EngineConfig(), on_cpu=True, facts=SMOLLM, max_tokens=256, available=22 * GIB, bf16=True)
    assert kw["dtype"] == "bfloat16" and kw["max_num_seqs"] == 512
    assert kw["kv_cache_memory_bytes"] == (512 * (256 + 64) + 32) * 23_040          # 2 bytes a value
    # 2-byte weights and KV values: 4 GiB holds 273 sequences where float32 held 127
    small = engine_kwargs(EngineConfig(), on_cpu=True, facts=SMOLLM, max_tokens=256, available=4 * GIB, bf16=True)
    assert small["max_num_seqs"] == int(CPU_KV_SHARE * (4 * GIB - SMOLLM.params * 2)) // 23_040 // 320 == 273
    # an explicit dtype wins; a GPU keeps the model's
    assert engine_kwargs(EngineConfig(dtype="float32"), on_cpu=True, facts=SMOLLM, bf16=True)["dtype"] == "float32"
    assert engine_kwargs(EngineConfig(), on_cpu=False, facts=SMOLLM, bf16=True)["dtype"] == "auto"
    # read from /proc/cpuinfo's flags line
    amx = tmp_path / "amx"
    amx.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f amx_bf16 amx_tile\n")
    avx2 = tmp_path / "avx2"
    avx2.write_text("processor\t: 0\nflags\t\t: fpu avx avx2 fma\n")
    assert cpu_has_bf16(str(amx)) and not cpu_has_bf16(str(avx2)) and not cpu_has_bf16(str(tmp_path / "none"))


def test_request_timing_from_vllms_request_stats():
    from types import SimpleNamespace

    from testtime.samplers.vllm import request_timing

    stats = SimpleNamespace(scheduled_ts=100.0, first_token_ts=100.5, last_token_ts=102.5, num_generation_tokens=5)
    assert request_timing(stats) == {"ttft_s": 0.5, "tpot_s": 0.5, "request_s": 2.5}   # 2 s over 4 later tokens
    one = SimpleNamespace(scheduled_ts=1.0, first_token_ts=1.25, last_token_ts=1.25, num_generation_tokens=1)
    assert request_timing(one) == {"ttft_s": 0.25, "tpot_s": None, "request_s": 0.25}
    assert request_timing(None) == {}                                       # statistics off: nothing measured
    assert request_timing(SimpleNamespace(scheduled_ts=0.0, first_token_ts=0.0, last_token_ts=0.0,
                                          num_generation_tokens=0)) == {}
