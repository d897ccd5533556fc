"""The run: typed records, the sample store and its pools, the estimators, evaluation at every budget, and the
runner that drives benchmark -> sampler -> grader/scorers -> store -> strategies (`runner.run`)."""
