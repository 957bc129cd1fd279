"""Proportions of single-arm studies: exact per-study intervals and random-effects pooling.

Two pooled estimates, both on the logit scale, following R's metafor (measure "PLO"):

* :func:`glmm_logit` - binomial-normal generalised linear mixed model fitted by maximum
  likelihood (``rma.glmm``), the main estimate. It uses the exact binomial likelihood, so
  studies with 0 % or 100 % events need no continuity correction: the two-step methods are
  biased in exactly the tiny, all-or-nothing studies this field is made of.
* :func:`reml_logit` - inverse-variance random effects with the REML estimate of tau^2
  (``rma``), reported beside it; studies with 0 or all events get 0.5 added to their cells
  (metafor's ``add=1/2, to="only0"``).

Both report the estimate, its 95 % CI (Wald, normal quantile), tau^2, I^2 (from metafor's
"typical" within-study variance) and the 95 % prediction interval (mu +- z sqrt(se^2 + tau^2)),
as metafor's ``predict()`` does by default, and the prediction interval with a t distribution of
k - 1 degrees of freedom beside it (wider for few studies).

A GLMM fit is *degenerate* when tau^2 exceeds :data:`TAU2_BOUND`, when the estimate is at
infinity (every study 0 % or every study 100 %), or when the optimiser does not converge. With
tau^2 > 10 the 95 % prediction interval on the logit scale is wider than +-6.2, i.e. it runs from
under 1 % to over 99 %: the data say nothing about a typical study, and the adaptive quadrature
is no longer accurate (its likelihood surface is not smooth there, so different optimisers stop
at different points; metafor's own answer there is an optimiser artefact too). Such fits are
flagged and never shown with a precise interval (see ``analysis.summary.pool``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import special

# scipy.special's functions are what scipy.stats' norm, beta and t quantiles compute (identical
# numbers, checked bit for bit), without importing scipy.stats (half a second); scipy.optimize
# is imported only when a GLMM is fitted (a rebuild takes its fits from the cache).
Z95 = special.ndtri(0.975)
TAU2_BOUND = 10.0  # beyond it a GLMM fit is degenerate (see the module docstring)
TAU_SEARCH = 7.0  # the likelihood is searched up to tau = 7 (tau^2 = 49); an optimum at that edge is degenerate


def clopper_pearson(events, total, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Clopper-Pearson) confidence interval of events/total, vectorized."""
    k = np.asarray(events, dtype=float)
    n = np.asarray(total, dtype=float)
    a = (1 - level) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = np.where(k > 0, special.betaincinv(k, n - k + 1, a), 0.0)
        upper = np.where(k < n, special.betaincinv(k + 1, n - k, 1 - a), 1.0)
    return lower, upper


def logit_effects(events, total) -> tuple[np.ndarray, np.ndarray]:
    """Logit proportions and their sampling variances, 0.5 added where a cell is 0 (escalc "PLO")."""
    k = np.asarray(events, dtype=float)
    n = np.asarray(total, dtype=float)
    zero = (k == 0) | (k == n)
    k_adj = np.where(zero, k + 0.5, k)
    n_adj = np.where(zero, n + 1.0, n)
    yi = np.log(k_adj / (n_adj - k_adj))
    vi = 1 / k_adj + 1 / (n_adj - k_adj)
    return yi, vi


def typical_variance(vi: np.ndarray) -> float:
    """metafor's 'typical' within-study variance used for I^2."""
    w = 1 / vi
    k = len(vi)
    return (k - 1) * w.sum() / (w.sum() ** 2 - (w**2).sum()) if k > 1 else float(vi[0])


@dataclass
class Pooled:
    """A pooled proportion (estimate and intervals on the proportion scale; logit values too)."""

    method: str
    k: int
    n: int
    events: int
    estimate: float
    ci_lower: float
    ci_upper: float
    pi_lower: float
    pi_upper: float
    tau2: float
    i2: float
    logit: float
    logit_se: float
    converged: bool = True
    pi_t_lower: float = float("nan")
    pi_t_upper: float = float("nan")

    @property
    def degenerate(self) -> bool:
        """Estimate at infinity, no convergence, or tau^2 beyond :data:`TAU2_BOUND`."""
        return not self.converged or not np.isfinite(self.logit) or self.tau2 > TAU2_BOUND

    def to_dict(self) -> dict:
        return asdict(self)


def _finish(method, k, n, mu, se, tau2, vi, converged=True) -> Pooled:
    s2 = typical_variance(vi)
    i2 = 100 * tau2 / (tau2 + s2) if len(vi) > 1 and tau2 + s2 > 0 else 0.0
    ci = (mu - Z95 * se, mu + Z95 * se)
    half = Z95 * np.sqrt(se**2 + tau2)
    t_half = special.stdtrit(len(vi) - 1, 0.975) * np.sqrt(se**2 + tau2) if len(vi) > 1 else float("nan")
    return Pooled(
        method=method, k=len(k), n=int(n.sum()), events=int(k.sum()),
        estimate=float(special.expit(mu)), ci_lower=float(special.expit(ci[0])), ci_upper=float(special.expit(ci[1])),
        pi_lower=float(special.expit(mu - half)), pi_upper=float(special.expit(mu + half)),
        tau2=float(tau2), i2=float(i2), logit=float(mu), logit_se=float(se), converged=converged,
        pi_t_lower=float(special.expit(mu - t_half)), pi_t_upper=float(special.expit(mu + t_half)),
    )


def reml_logit(events, total, max_iter: int = 100, tol: float = 1e-10) -> Pooled:
    """Inverse-variance random-effects pooling on the logit scale, tau^2 by REML (metafor ``rma``)."""
    k = np.asarray(events, dtype=float)
    n = np.asarray(total, dtype=float)
    yi, vi = logit_effects(k, n)
    if len(yi) == 1:
        return _finish("REML", k, n, float(yi[0]), float(np.sqrt(vi[0])), 0.0, vi)
    # Fisher scoring, started from the DerSimonian-Laird estimate, as metafor does.
    w = 1 / vi
    mu_fe = (w * yi).sum() / w.sum()
    q = (w * (yi - mu_fe) ** 2).sum()
    tau2 = max(0.0, (q - (len(yi) - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    converged = False
    for _ in range(max_iter):
        w = 1 / (vi + tau2)
        p = np.diag(w) - np.outer(w, w) / w.sum()
        py = p @ yi
        adj = (py @ py - np.trace(p)) / np.trace(p @ p)
        new = max(0.0, tau2 + adj)
        if abs(new - tau2) < tol:
            tau2, converged = new, True
            break
        tau2 = new
    w = 1 / (vi + tau2)
    mu = (w * yi).sum() / w.sum()
    se = np.sqrt(1 / w.sum())
    return _finish("REML", k, n, mu, se, tau2, vi, converged)


_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(7)  # 7 nodes, as lme4 (nAGQ = 7) in metafor


def _marginal_loglik(mu: float, tau: float, k: np.ndarray, n: np.ndarray, state: dict | None = None) -> float:
    """Binomial-normal log-likelihood, random effect integrated by adaptive Gauss-Hermite.

    ``state`` carries the last modes between calls (a warm start for Newton: the optimiser
    calls this thousands of times at nearby points); the result does not depend on it, since
    Newton runs to 1e-12.
    """
    state = state if state is not None else {}
    if "logcomb" not in state:
        state["logcomb"] = special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)
    logcomb = state["logcomb"]
    if tau < 1e-8:
        eta = mu
        return float((logcomb + k * eta - n * np.logaddexp(0, eta)).sum())
    # Mode and curvature of each study's integrand in u (random effect on the standard scale).
    # The integrand is log-concave in u, so damped Newton converges.
    u = state.get("u", np.zeros_like(k)).copy()
    for _ in range(100):
        p = 1 / (1 + np.exp(-(mu + tau * u)))
        grad = tau * (k - n * p) - u
        hess = -(tau**2) * n * p * (1 - p) - 1
        step = np.clip(grad / hess, -1.0, 1.0)
        u = u - step
        if np.abs(step).max() < 1e-12:  # converged far below what the quadrature resolves
            break
    state["u"] = u
    p = 1 / (1 + np.exp(-(mu + tau * u)))
    scale = 1 / np.sqrt(tau**2 * n * p * (1 - p) + 1)
    nodes = u[:, None] + scale[:, None] * _GH_NODES[None, :]
    eta = mu + tau * nodes
    log_f = logcomb[:, None] + k[:, None] * eta - n[:, None] * np.logaddexp(0, eta) - nodes**2 / 2 + _GH_NODES[None, :] ** 2 / 2
    top = log_f.max(axis=1)
    log_int = top + np.log((_GH_WEIGHTS[None, :] * np.exp(log_f - top[:, None])).sum(axis=1)) + np.log(scale) - 0.5 * np.log(2 * np.pi)
    return float(log_int.sum())


def glmm_logit(events, total) -> Pooled:
    """Binomial-normal random-effects model by maximum likelihood (metafor ``rma.glmm``, "PLO")."""
    k = np.asarray(events, dtype=float)
    n = np.asarray(total, dtype=float)
    _, vi = logit_effects(k, n)
    start_mu = special.logit(np.clip((k.sum() + 0.5) / (n.sum() + 1), 1e-6, 1 - 1e-6))
    if len(k) == 1:
        # One study: tau is not identifiable; the model is the binomial likelihood itself.
        if 0 < k[0] < n[0]:
            mu = special.logit(k[0] / n[0])
            return _finish("GLMM", k, n, mu, float(np.sqrt(1 / (n[0] * (k[0] / n[0]) * (1 - k[0] / n[0])))), 0.0, vi)
        return _finish("GLMM", k, n, float("nan"), float("nan"), 0.0, vi, converged=False)

    state: dict = {}

    def nll(theta):
        return -_marginal_loglik(theta[0], theta[1], k, n, state)

    mu, tau, converged = _maximise(nll, start_mu)
    if abs(mu) > 25:  # all studies 0 % or 100 %: the ML estimate is at infinity
        return _finish("GLMM", k, n, float("nan"), float("nan"), 0.0, vi, converged=False)
    se = _se_mu(lambda m, t: nll([m, t]), mu, tau)
    return _finish("GLMM", k, n, mu, se, tau**2, vi, converged=bool(converged and np.isfinite(se)))


def _maximise(nll, start_mu: float) -> tuple[float, float, bool]:
    """(mu, tau, converged) maximising the likelihood, robust to its ridges at large tau.

    One local optimiser from one start can stop on a ridge of the quadrature likelihood (the
    0.7-point-wide interval of an earlier version). So: profile the likelihood over a grid of
    tau (mu optimised for each), then polish the best grid point with Nelder-Mead in
    (mu, log tau); tau = 0 (the fixed-effect model) is a candidate of its own.
    """
    from scipy import optimize

    def bounded(theta):  # the quadrature is meaningless far out: keep the search inside
        mu, log_tau = theta
        value = nll([mu, float(np.exp(log_tau))]) if abs(mu) <= 30 and log_tau <= np.log(TAU_SEARCH) else np.inf
        return value if np.isfinite(value) else np.inf

    def best_mu(tau):
        r = optimize.minimize_scalar(lambda m: nll([m, tau]), bounds=(-30, 30), method="bounded", options={"xatol": 1e-3})
        return (r.fun if np.isfinite(r.fun) else np.inf), r.x

    grid = np.concatenate([[0.0], np.geomspace(0.1, TAU_SEARCH, 8)])
    profile = [(*best_mu(t), t) for t in grid]
    fun0, mu0, tau0 = min(profile, key=lambda p: p[0])
    if profile[0][0] <= fun0 + 1e-6:  # no better than the fixed-effect model: tau = 0, as metafor
        return float(profile[0][1]), 0.0, True
    res = optimize.minimize(bounded, x0=[mu0, np.log(tau0)], method="Nelder-Mead",
                            options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 4000})
    if res.fun <= fun0:
        return float(res.x[0]), float(np.exp(res.x[1])), bool(res.success)
    return float(mu0), float(tau0), False


def _se_mu(f, mu: float, tau: float, h: float = 1e-3) -> float:
    """Standard error of mu from the numerical Hessian of the negative log-likelihood.

    The Hessian is taken in (mu, log tau), which is better conditioned for large tau; the
    variance of mu at the optimum does not depend on how tau is parameterised.
    """
    if tau <= 1e-6:
        fmm = (f(mu + h, 0.0) - 2 * f(mu, 0.0) + f(mu - h, 0.0)) / h**2
        return float(np.sqrt(1 / fmm)) if fmm > 0 else float("nan")

    def g(m, lt):
        return f(m, float(np.exp(lt)))

    lt = float(np.log(tau))
    f0 = g(mu, lt)
    fmm = (g(mu + h, lt) - 2 * f0 + g(mu - h, lt)) / h**2
    ftt = (g(mu, lt + h) - 2 * f0 + g(mu, lt - h)) / h**2
    fmt = (g(mu + h, lt + h) - g(mu + h, lt - h) - g(mu - h, lt + h) + g(mu - h, lt - h)) / (4 * h * h)
    det = fmm * ftt - fmt**2
    if fmm <= 0 or det <= 0:
        return float("nan")
    return float(np.sqrt(ftt / det))
