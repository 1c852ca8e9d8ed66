"""The validation layer: one-line checks of every input the model, the engines and the
command line accept.

Every function returns the validated value (numbers as float arrays, so grids broadcast) or
raises :class:`~prunescale.errors.InputError` with one line naming the parameter, the bad
value and the allowed range. These are the very checks :class:`prunescale.model.Model`,
:func:`prunescale.theory.solve` and :func:`prunescale.sims.simulate` run (they are defined
next to the pruning specification, :mod:`prunescale.theory.pruning`); callers that read
inputs (the command line, the app) use them through this module so that a value is refused
with the same words everywhere.

Example:
    >>> from prunescale.validation import check_f
    >>> check_f(1.5)
    Traceback (most recent call last):
    ...
    prunescale.errors.InputError: f must be in (0, 1]; got 1.5
"""

from prunescale.theory.pruning import (
    ALPHA_MAX,
    ALPHA_SSL_MAX,
    LAM_MAX,
    LEARNERS,
    METRICS,
    POWER_EXP_MAX,
    PROBES,
    REGULARIZED,
    RULES,
    SNR_MAX,
    SOFTNESS_MAX,
    THETA_MAX_DEG,
    check_alpha,
    check_alpha_ssl,
    check_f,
    check_int,
    check_lam,
    check_learner,
    check_metric,
    check_noise,
    check_power_exp,
    check_probe,
    check_probe_scale,
    check_random_share,
    check_rule,
    check_snr,
    check_softness,
    check_theta_deg,
    check_tol,
)

__all__ = [
    "ALPHA_MAX", "ALPHA_SSL_MAX", "LAM_MAX", "LEARNERS", "METRICS", "POWER_EXP_MAX", "PROBES",
    "REGULARIZED", "RULES", "SNR_MAX", "SOFTNESS_MAX", "THETA_MAX_DEG", "check_alpha",
    "check_alpha_ssl", "check_f", "check_int", "check_lam", "check_learner", "check_metric",
    "check_noise", "check_power_exp", "check_probe", "check_probe_scale", "check_random_share",
    "check_rule", "check_snr", "check_softness", "check_theta_deg", "check_tol"
]
