"""Training-compute scaling laws, to set beside inference-time curves: loss(N, D) and the compute-optimal N, D.

Every law is a frozen dataclass of its published constants with `loss(N, D)`, `n_opt(C)`, `d_opt(C)` and
`tokens_per_param(C)`, where C is training FLOPs and C = 6 N D throughout (Kaplan et al. 2020, section 2.1). The
parametric form of Hoffmann et al. is one class, `ParametricLaw`, with one instance per published fit.

- `CHINCHILLA`: Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models", approach 3 (section 3.3,
  eq. 2 and the fitted constants of eq. 10): L = E + A / N**alpha + B / D**beta with E=1.69, A=406.4, B=410.7,
  alpha=0.34, beta=0.28; minimised under C = 6 N D in closed form (their eq. 4):
  N_opt = G (C/6)**(beta/(alpha+beta)), D_opt = (1/G) (C/6)**(alpha/(alpha+beta)),
  G = (alpha A / (beta B))**(1/(alpha+beta)).
  The printed constants are rounded; Besiroglu et al. 2024 recovered E=1.6934, alpha=0.3392, beta=0.2849 from the
  paper's TeX source. Only those reproduce the paper's approach-3 figures (exponent a = 0.46, table 2; about 40B
  parameters at Gopher's 5.76e23 FLOPs, section 3.3/figure 4); the rounded ones give a = 0.452 and 32B.
  `CHINCHILLA_UNROUNDED` is the law with those constants.
- `BESIROGLU2024`: Besiroglu, Erdil, Barnett, You 2024, "Chinchilla Scaling: A replication attempt" (Epoch AI,
  arXiv 2404.10102): the same form refitted to data read off Hoffmann et al.'s figure 4: E=1.8172, A=482.01,
  B=2085.43, alpha=0.3478, beta=0.3658, giving a = beta/(alpha+beta) = 0.51 and about 20 tokens per parameter.
- `KAPLAN2020` (class `Kaplan2020`): Kaplan et al. 2020, "Scaling Laws for Neural Language Models". L(N, D) is
  their eq. 1.5, [(N_c/N)**(alpha_N/alpha_D) + D_c/D]**alpha_D with N_c=8.8e13, alpha_N=0.076, D_c=5.4e13, alpha_D=0.095
  (eq. 1.1, 1.2). The compute-efficient size is their figure 14 / table 6 fit N_opt = 1.3e9 (C_min / PF-day)**0.73,
  1 PF-day = 8.64e19 FLOPs; we set D_opt = C / (6 N_opt) so that C = 6 N D holds (their own D fit,
  2e10 C_min**0.27, was made separately and does not satisfy it exactly). `loss_frontier(C)` is eq. 1.3,
  L(C_min) = (3.1e8 PF-days / C_min)**0.050. Kaplan's N excludes embedding parameters, and losses are nats per token
  on WebText2 (GPT-2 tokenizer); Chinchilla's are on MassiveText. Losses of different laws are not comparable.

Example:
    CHINCHILLA.n_opt(5.76e23), CHINCHILLA.d_opt(5.76e23)    # ~3.2e10 params, ~3.0e12 tokens
    allocation_table(1e23)                                   # one row per law, for `testtime laws --compute 1e23`
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from testtime.errors import UserError

PF_DAY = 1e15 * 86400  # FLOPs in one petaflop/s-day, Kaplan et al.'s compute unit


def _positive(name: str, value):
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise UserError(f"{name} must be a positive number; got {value}")
    return arr


def _out(arr):
    return float(arr) if np.ndim(arr) == 0 else arr


@dataclass(frozen=True)
class ParametricLaw:
    """The parametric law of Hoffmann et al. 2022, approach 3: L(N, D) = E + A / N**alpha + B / D**beta, N counting
    all parameters; minimised under C = 6 N D in closed form (their eq. 4). Chinchilla's fit and Epoch AI's refit
    are two instances of it (CHINCHILLA, BESIROGLU2024).

    Example:
        ParametricLaw("mine", E=1.7, A=400.0, B=410.0, alpha=0.34, beta=0.28).n_opt(1e23)
    """

    name: str
    """Label in tables (`testtime laws`)."""
    E: float
    """Irreducible loss (nats per token on the law's data set)."""
    A: float
    """Model-size coefficient."""
    B: float
    """Data coefficient."""
    alpha: float
    """Model-size exponent."""
    beta: float
    """Data exponent."""

    non_embedding: ClassVar[bool] = False
    """N counts every parameter, embeddings included."""

    def loss(self, N, D):
        """Predicted final training loss of an N-parameter model trained on D tokens."""
        N, D = _positive("N", N), _positive("D", D)
        return _out(self.E + self.A / N**self.alpha + self.B / D**self.beta)

    def n_opt(self, C):
        """Loss-minimising parameter count for C training FLOPs (closed form of Hoffmann et al. eq. 4)."""
        return _out(self._n_opt(_positive("compute", C)))

    def d_opt(self, C):
        """Loss-minimising token count for C training FLOPs; C = 6 n_opt d_opt exactly."""
        C = _positive("compute", C)
        return _out(C / (6.0 * self._n_opt(C)))

    def tokens_per_param(self, C):
        """d_opt / n_opt at C FLOPs."""
        return _out(np.asarray(self.d_opt(C)) / np.asarray(self.n_opt(C)))

    def _n_opt(self, C):
        # d/dN [A N^-alpha + B (C/6N)^-beta] = 0  =>  N^(alpha+beta) = (alpha A / (beta B)) (C/6)^beta
        s = self.alpha + self.beta
        g = (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / s)
        return g * (C / 6.0) ** (self.beta / s)


CHINCHILLA = ParametricLaw("chinchilla", E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
"""Hoffmann et al. 2022, approach 3, with the constants as printed (MassiveText)."""
CHINCHILLA_UNROUNDED = dataclasses.replace(CHINCHILLA, name="chinchilla-unrounded", E=1.6934, alpha=0.3392,
                                           beta=0.2849)
"""The same fit with the unrounded constants Besiroglu et al. 2024 read from the paper's TeX source."""
BESIROGLU2024 = ParametricLaw("besiroglu2024", E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658)
"""Epoch AI's refit of Chinchilla approach 3 (Besiroglu et al. 2024): same form, their refit constants."""


@dataclass(frozen=True)
class Kaplan2020:
    """Kaplan et al. 2020: L(N, D) of eq. 1.5, compute-efficient N_opt of figure 14; N excludes embeddings."""

    N_c: float = 8.8e13
    """Non-embedding parameter scale of L(N) (eq. 1.1)."""
    alpha_N: float = 0.076
    """Exponent of L(N)."""
    D_c: float = 5.4e13
    """Token scale of L(D) (eq. 1.2)."""
    alpha_D: float = 0.095
    """Exponent of L(D)."""
    N_e: float = 1.3e9
    """N_opt at C_min = 1 PF-day (figure 14, table 6)."""
    p_N: float = 0.73
    """Exponent of N_opt in C_min (section 6.1, figure 14)."""
    C_c: float = 3.1e8
    """Compute scale of L(C_min), in PF-days (eq. 1.3)."""
    alpha_C: float = 0.050
    """Exponent of L(C_min)."""

    name: ClassVar[str] = "kaplan2020"
    non_embedding: ClassVar[bool] = True
    """N counts non-embedding parameters only."""

    def loss(self, N, D):
        """Eq. 1.5: [(N_c/N)**(alpha_N/alpha_D) + D_c/D]**alpha_D, nats per token on WebText2."""
        N, D = _positive("N", N), _positive("D", D)
        return _out(((self.N_c / N) ** (self.alpha_N / self.alpha_D) + self.D_c / D) ** self.alpha_D)

    def n_opt(self, C):
        """Compute-efficient non-embedding parameter count for C training FLOPs: 1.3e9 (C / PF-day)**0.73."""
        return _out(self.N_e * (_positive("compute", C) / PF_DAY) ** self.p_N)

    def d_opt(self, C):
        """Tokens that spend the rest of C at 6 FLOPs per parameter per token: C / (6 n_opt)."""
        C = _positive("compute", C)
        return _out(C / (6.0 * self.N_e * (C / PF_DAY) ** self.p_N))

    def tokens_per_param(self, C):
        """d_opt / n_opt at C FLOPs."""
        return _out(np.asarray(self.d_opt(C)) / np.asarray(self.n_opt(C)))

    def loss_frontier(self, C):
        """Eq. 1.3: the loss on the compute-efficient frontier, (C_c / C_min)**alpha_C, C in FLOPs."""
        return _out((self.C_c / (_positive("compute", C) / PF_DAY)) ** self.alpha_C)


KAPLAN2020 = Kaplan2020()
"""Kaplan et al. 2020 with their published constants."""

LAWS = (CHINCHILLA, BESIROGLU2024, KAPLAN2020)
"""The laws `allocation_table` and the catalog tests compare, in table order."""


def allocation_table(C: float) -> list[dict]:
    """Compute-optimal allocation of C training FLOPs under each law.

    Args:
        C: training compute in FLOPs.

    Returns:
        One dict per law: "law", "compute", "n_opt", "d_opt", "tokens_per_param", "loss" (the law's loss at
        (n_opt, d_opt); each law's own data set and tokenizer, so compare allocations, not losses, across laws).

    Example:
        for row in allocation_table(1e23): print(row["law"], f"{row['n_opt']:.3g}")
    """
    C = float(_positive("compute", C))
    return [
        {"law": law.name, "compute": C, "n_opt": law.n_opt(C), "d_opt": law.d_opt(C),
         "tokens_per_param": law.tokens_per_param(C), "loss": law.loss(law.n_opt(C), law.d_opt(C))}
        for law in LAWS
    ]
