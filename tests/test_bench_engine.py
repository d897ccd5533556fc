"""testtime/bench_engine.py without an engine: the stall measure on planted traces, the old settings pinned, and
--compare-defaults refusing what it cannot compare."""

from testtime.bench_engine import OLD, longest_stall
from testtime.config import EngineConfig
from testtime.samplers.vllm import engine_kwargs
from tests.helpers import cli_in_process


def test_longest_stall_on_a_planted_trace():
    # 100 tok/s mean; tokens flow from t=2 s; a 3 s stretch (t=4..7) at 5 tok/s, then a 1 s one at 0
    trace = [(0, 0), (1, 0), (2, 0), (3, 100), (4, 200), (5, 205), (6, 210), (7, 215), (8, 315), (9, 315), (10, 415)]
    assert longest_stall(trace, 0.0, 2.0, 100.0) == 3.0
    assert longest_stall(trace, 0.0, None, 100.0) == 0.0      # no first token of the batch: nothing counts
    assert longest_stall(trace, 0.0, 2.0, 40.0) == 1.0        # at a 40 tok/s mean, 5 tok/s is not under 10%


def test_old_settings_are_those_before_issue_23():
    kw = engine_kwargs(EngineConfig(**OLD), on_cpu=True, max_tokens=256)
    assert (kw["max_num_seqs"], kw["block_size"], kw["max_num_batched_tokens"]) == (512, 128, 8192)
    assert kw["prefill_first"] is False and "kv_cache_memory_bytes" not in kw and kw["gpu_memory_utilization"] == 0.6


def test_compare_defaults_needs_the_in_process_engine():
    res = cli_in_process("bench", "--compare-defaults", "--backend", "openai", "--set",
                         "endpoint.base_url=http://127.0.0.1:9/v1")
    assert res.returncode == 2 and "--compare-defaults compares in-process vLLM engines" in res.stderr
