"""The analyzer: stored runs' results -> curve fits, training-compute laws and catalogue, exchange rates, the
accuracy-vs-compute frontier and the continuous (gold-likelihood) signal. Reads results, never the sample store."""
