"""Test-time strategies and scorers, registered by name (see strategies/base.py for the protocols).

Adding one is one short file: a frozen dataclass with `evaluate(pool, n) -> Estimate`, decorated with
`@register("strategy", "<name>")`, imported below.
"""

from strategies import best_of_n, majority_vote, pass_at_k  # noqa: F401  (registers them)
from strategies import beam_search, budget_forcing, dvts  # noqa: F401
from strategies import weighted_majority  # noqa: F401
from strategies import deepconf, deepconf_online, particle_filtering, rebase, sequential_revisions  # noqa: F401
from strategies import adaptive_consistency, beta_sc, deepconf_consensus, early_stopping_sc  # noqa: F401
from strategies import short_m_at_k, supermajority  # noqa: F401
from strategies import scorers  # noqa: F401
