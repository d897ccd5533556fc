"""Writes the import fixtures beside this file, each in its tool's own layout and fields (see README.md here for
where each format comes from). Run once: `python tests/data/imports/make_fixtures.py`; the files are committed."""

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).parent
DATE = "2025-01-01T00-00-00.000000"
GSM8K = [("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many "
          "clips did Natalia sell altogether in April and May?", "Natalia sold 48/2 = 24 clips in May.\n"
          "Natalia sold 48+24 = 72 clips altogether in April and May.\n#### 72", "72"),
         ("Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did "
          "she earn?", "Weng earns 12/60 = $0.2 per minute.\nWorking 50 minutes, she earned 0.2 x 50 = $10.\n#### 10",
          "10"),
         ("James writes a 3-page letter to 2 different friends twice a week. How many pages does he write a year?",
          "He writes each friend 3*2=6 pages a week\nSo he writes 6*2=12 pages every week\nThat means he writes "
          "12*52=624 pages a year\n#### 624", "624")]
RESPONSES = [["48/2 = 24 in May, so 48 + 24 = 72. The answer is 72.", "She sold 48 + 48/2 = 72 clips. #### 72",
              "48 + 24 = 70. The answer is 70.", "In May 24, total 72.\n\nThe answer is 72."],
             ["12/60 = 0.2 per minute; 0.2 * 50 = 10. The answer is 10.", "50/60 * 12 = 10 dollars. The answer is 10",
              "She earned 12 dollars. The answer is 12.", "The answer is 600."],
             ["3 * 2 * 2 = 12 pages a week, 12 * 52 = 624. The answer is 624.", "The answer is 312.",
              "6 pages a week, 6 * 52 = 312. The answer is 312.", "12 * 52 = 624. The answer is 624."]]


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def lm_eval():
    """lm-evaluation-harness 0.4.x, `--log_samples` of gsm8k_cot_self_consistency with repeats: 4: one line per
    (document, filter); resps holds the 4 responses, filtered_resps the filter's output."""
    out = HERE / "lm-eval" / "HuggingFaceTB__SmolLM2-135M-Instruct"
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for doc_id, ((q, a, gold), resps) in enumerate(zip(GSM8K, RESPONSES)):
        context = f"Q: {q}\nA:"
        answers = [r.rsplit(" ", 1)[-1].strip(".") for r in resps]
        for flt, picked in (("score-first", answers[0]), ("maj@4", max(set(answers), key=answers.count))):
            lines.append({"doc_id": doc_id, "doc": {"question": q, "answer": a}, "target": gold,
                          "arguments": {"gen_args_0": {"arg_0": context, "arg_1": {"until": ["Q:", "\n\n"],
                                                                                   "do_sample": True,
                                                                                   "temperature": 0.2}}},
                          "resps": [resps], "filtered_resps": [picked], "filter": flt, "metrics": ["exact_match"],
                          "doc_hash": sha(json.dumps({"question": q, "answer": a})), "prompt_hash": sha(context),
                          "target_hash": sha(gold), "exact_match": float(picked == gold)})
    (out / f"samples_gsm8k_cot_self_consistency_{DATE}.jsonl").write_text(
        "".join(json.dumps(line) + "\n" for line in lines))
    (out / f"results_{DATE}.json").write_text(json.dumps({
        "results": {"gsm8k_cot_self_consistency": {"alias": "gsm8k_cot_self_consistency"}},
        "config": {"model": "vllm", "model_args": "pretrained=HuggingFaceTB/SmolLM2-135M-Instruct,dtype=auto"},
        "model_name": "HuggingFaceTB/SmolLM2-135M-Instruct"}, indent=2))


MATH = [("What is $\\frac{1}{2} + \\frac{1}{3}$?", "\\frac{5}{6}",
         ["$\\frac{3}{6} + \\frac{2}{6} = \\boxed{\\frac{5}{6}}$", "The sum is \\boxed{\\frac{2}{5}}.",
          "So we get $\\boxed{5/6}$."]),
        ("Compute $\\sqrt{49}$.", "7", ["$\\sqrt{49} = \\boxed{7}$", "\\boxed{7}", "It is \\boxed{-7}."])]


def lighteval():
    """lighteval details of lighteval|math_500|0 with 3 samples per problem: columns doc, metric, model_response
    (sorted, as EvaluationTracker.save does), nested as the Doc and ModelResponse dataclasses are."""
    model = "some-org/unknown-model"
    out = HERE / "lighteval" / "details" / model / DATE
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (q, gold, texts) in enumerate(MATH):
        rows.append({
            "doc": {"query": f"Solve: {q}", "choices": [gold], "gold_index": 0, "instruction": "",
                    "original_query": q, "id": str(i), "task_name": "lighteval|math_500|0",
                    "specific": None, "num_samples": len(texts), "generation_size": 256,
                    "stop_sequences": [], "use_logits": False},
            "metric": {"pass@k:k=1&n=3": sum("\\boxed{" + gold + "}" in t for t in texts) / len(texts)},
            "model_response": {"input": f"Solve: {q}", "input_tokens": [], "text": texts,
                               "output_tokens": [list(range(len(t.split()))) for t in texts],
                               "text_post_processed": None, "reasonings": [], "logprobs": [],
                               "argmax_logits_eq_gold": [], "truncated_tokens_count": 0,
                               "padded_tokens_count": 0}})
    pq.write_table(pa.Table.from_pylist(rows), out / f"details_lighteval|math_500|0_{DATE}.parquet")


AIME = [(0, "Find the remainder when $7^{100}$ is divided by $5$.", "1", ["\\boxed{1}", "\\boxed{1}", "\\boxed{3}"]),
        (1, "How many positive divisors does $36$ have?", "9", ["\\boxed{9}", "\\boxed{8}", "\\boxed{9}"])]


def nemo_skills():
    """NeMo-Skills generations on aime24 with 3 random seeds: output-rs<seed>.jsonl, the input's fields plus
    generation, predicted_answer and symbolic_correct (after `ns eval`'s math grader)."""
    out = HERE / "nemo-skills" / "aime24"
    out.mkdir(parents=True, exist_ok=True)
    for seed in range(3):
        lines = []
        for pid, q, gold, gens in AIME:
            text = f"Let me compute. The final answer is {gens[seed]}"
            pred = gens[seed][len("\\boxed{"):-1]
            lines.append({"id": f"aime24-{pid}", "problem": q, "expected_answer": gold, "generation": text,
                          "predicted_answer": pred, "symbolic_correct": pred == gold})
        (out / f"output-rs{seed}.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


if __name__ == "__main__":
    lm_eval()
    lighteval()
    nemo_skills()
