"""The run, above strategies/ in the flow: grade, score and cost each problem's samples (samples.py), evaluate the
strategies at every n or budget (evaluate.py), and the runner that drives benchmark -> sampler -> grader/scorers ->
store -> strategies (`runner.run`), with its provenance, events, run lock, limits and regrading. What it stores and
reads back (records, the store, pools, estimators) is testtime.store, below strategies/."""
