"""The one entry point of the simulations: :func:`simulate`, for every learner.

:func:`simulate` reads a model point (a :class:`prunescale.model.Model`, or the same fields
as keyword arguments, as :func:`prunescale.theory.solve` takes them), validates it once and
runs the simulator of its learner: certified max-margin students
(:func:`prunescale.sims.run.simulate_max_margin`) or certified ridge, logistic or hinge
students (:func:`prunescale.sims.erm.simulate_regularized`). Both share the sampling,
pruning and label-flip layer (:mod:`prunescale.sims.prune`) and return the one
:class:`~prunescale.sims.SimResult`.
"""

from __future__ import annotations

from typing import Sequence

from prunescale._threads import single_blas
from prunescale.errors import InputError
from prunescale.sims.result import SimResult
from prunescale.theory.engine import check_tol, model_arguments


@single_blas
def simulate(rule=None, f=None, alpha_prune=None, *, n: int | None = None,
             seeds: int | Sequence[int], alpha_tot=None, theta_deg=None, learner=None,
             lam=None, noise=None, softness=None, metric=None, reweight=None, power_exp=None,
             probe_scale=None, random_share=None, labels=None, snr=None, spectrum=None,
             teacher_decay=None, probe=None, alpha_ssl=None,
             prototype_method: str = "eigen", prototype_source: str = "independent",
             seed: int | None = 0, key=None,
             mode: str | None = None, direct: bool = False, tol: float | None = None,
             chunk: int | None = None, max_iter: int | None = None,
             progress: bool | None = None) -> SimResult:
    """Simulate certified students of one model point on pruned Gaussian data.

    Args:
        rule: ``"hard"``, ``"easy"`` or ``"random"``, or a :class:`prunescale.model.Model`
            (or a :class:`~prunescale.theory.Pruning`) whose fields fill in the model.
        f: kept fraction in ``(0, 1]``.
        alpha_prune: kept examples per dimension (give this or ``alpha_tot``; if both, they
            must satisfy ``alpha_prune = f alpha_tot``).
        alpha_tot: pool size per dimension.
        theta_deg: probe angle in degrees, ``[0, 90)``.
        learner: ``"max-margin"`` (default), ``"ridge"``, ``"logistic"`` or ``"hinge"``.
        lam: penalty of a regularized learner, in ``(0, 1e6]``.
        noise: label-flip probability in ``[0, 0.5]``.
        labels: a label channel (:mod:`prunescale.theory.labels`, e.g. ``"probit:2"``; not
            with a nonzero ``noise``): labels drawn with ``P(y = +1 | t)`` on the pool (or the
            direct candidates), from the same uniforms as the flips (key
            ``fold_in(key, FLIP)``), for every learner.
        softness: selection softness in ``[0, 10]``.
        metric: ``"abs"`` or ``"signed"``.
        reweight: weight the kept losses by ``1/pi`` (regularized learners only).
        power_exp: exponent ``A`` of the power policy (``rule = "power"``), as
            :func:`prunescale.theory.solve`. Every pool example is kept independently with
            probability ``pi``; the normaliser ``c`` (threshold ``k``) is the theory's, from
            the ``N -> inf`` law, so the realised kept fraction fluctuates around ``f``
            (Binomial).
        probe_scale: scale ``B > 0`` of the power policy.
        random_share: share ``R`` in ``[0, 1]`` of random selection mixed into ``hard`` or
            ``easy`` (the mixed policy), kept in the same way.
        snr: spike ``S`` in ``[0, 1e6]`` of the input covariance ``I + S u u^T`` (``u`` the
            teacher's unit vector; default 0, isotropic inputs: the same students as
            before). Inputs are ``x = Sigma^(1/2) g``; a fixed probe at ``theta_deg`` (in
            input space) keeps today's kept law of ``g`` at the effective angle
            ``tan(theta_eff) = tan(theta) / sqrt(1 + S)``; students are trained on ``x``
            with the isotropic penalty and ``eps = arccos(rho) / pi``,
            ``rho = w~.u / |w~|``, ``w~ = Sigma^(1/2) w`` (:mod:`prunescale.sims.spiked`).
        spectrum: a covariance spectrum of the inputs, ``"power:A:D"`` (eigenvalues
            proportional to ``k^(-A)``) or ``"file:PATH"`` (:mod:`prunescale.theory.spectrum`;
            default ``None``: isotropic inputs; not with ``snr``, fixed probe only). Inputs are
            generated in the eigenbasis, ``N = D`` (``n`` may be left out; another ``n`` is
            refused): today's isotropic draws ``g`` mapped by ``x = Sigma^(1/2) H g``, ``H`` the
            Householder reflection that sends the drawn teacher to the model's whitened teacher
            ``u`` (:mod:`prunescale.sims.spectrum`). A ``D`` whose simulation does not fit in
            memory is refused up front.
        teacher_decay: ``B``: the teacher's share ``u_k^2`` of the label-field variance
            proportional to ``k^(-B)``; default ``None``: proportional to ``lambda_k`` (a
            teacher isotropic in input space). Only with ``spectrum``.
        probe: ``"fixed"`` (default) or ``"prototype"``: the top eigenvector ``v`` of the
            second moments of an unlabeled sample of spiked inputs, the pool (materialised)
            ranked by the cosine distance ``1 - |v.x| / |x|`` (``hard`` keeps the largest);
            sharp ``hard``, ``easy`` or ``random`` with metric ``abs``, ``pool`` or
            ``materialize`` mode only (``direct`` and ``signed`` are refused). The measured
            angle ``arccos(|v.u|)`` is :attr:`SimResult.probe_deg`.
        alpha_ssl: the prototype's unlabeled sample per dimension (``M = round(alpha_ssl N)``
            inputs, key ``fold_in(key_i, SSL)``); default ``alpha_tot``. A sample that does
            not fit in memory is refused up front.
        prototype_method: ``"eigen"`` (default; ``eigh`` of the second-moment matrix) or
            ``"kmeans"`` (2-means Lloyd iterations on ``x / |x|`` of the sample, started at
            two sample points drawn with ``fold_in(key_i, KMEANS)``; ``v`` along the
            difference of the centroids). Simulation only.
        prototype_source: ``"independent"`` (default: a sample independent of the pool) or
            ``"pool"`` (the practitioner's variant: the prototype of the pool itself; no
            ``alpha_ssl``). Simulation only.
        n: input dimension ``N >= 1`` (required without a spectrum; ``D`` with one).
        seeds: number of students ``K`` (students ``0..K-1``) or explicit student indices.
        seed: base seed (ignored if ``key`` is given); student ``i`` uses
            ``jax.random.fold_in(jax.random.key(seed), i)``, and sees the same pool, teacher
            and label flips under every learner.
        key: base JAX PRNG key instead of ``seed``.
        mode: ``"pool"`` (default: a finite pool of ``round(alpha_tot N)`` examples, pruned),
            ``"direct"`` (the kept data drawn from the ``N -> inf`` kept law; also
            ``direct=True``) or ``"materialize"`` (a literal pool, sharp rules only).
        tol: flagging threshold of the learner's certificate: relative duality gap of a
            max-margin student (default ``1e-6``), certified bound on ``|eps - eps*|`` of a
            regularized one (default ``1e-6``; ``1e-5`` with a spectrum,
            :data:`prunescale.sims.spectrum.EPS_TOL`). Flagged students are counted and excluded.
        chunk: students per compiled block (the result does not depend on it).
        max_iter: iteration cap of the solver (interior point or Newton).
        progress: one line per block on stderr (default: when there is more than one).

    Returns:
        :class:`~prunescale.sims.SimResult`.

    Raises:
        InputError: bad arguments, a configuration a finite ``N`` cannot realise, or a run
            that needs more memory than is available.

    Example:
        >>> r = simulate(rule="hard", f=0.5, alpha_prune=2.0, n=40, seeds=2, learner="ridge",
        ...              lam=0.1)
        >>> r.learner, r.seeds, bool(r.flagged.any())
        ('ridge', 2, False)
    """
    m = model_arguments(rule, dict(f=f, theta_deg=theta_deg, learner=learner, lam=lam,
                                   noise=noise, softness=softness, metric=metric,
                                   reweight=reweight, power_exp=power_exp,
                                   probe_scale=probe_scale, random_share=random_share,
                                   labels=labels, snr=snr, probe=probe, alpha_ssl=alpha_ssl,
                                   spectrum=spectrum, teacher_decay=teacher_decay))
    from prunescale.model import Model
    from prunescale.theory.pruning import Pruning

    model = Model.from_fields(**m)  # scalars: validated once, here
    if model.data.spectrum is not None:
        from prunescale.sims.spectrum import check_dimension
        from prunescale.theory.spectrum import parse_spectrum

        n = check_dimension(n, parse_spectrum(model.data.spectrum).dim)
    elif n is None:
        raise InputError("give n (the input dimension N >= 1), or a spectrum (then N = D)")
    check_tol(tol, model.learner.name)
    sel = model.selection
    pruning = Pruning(sel.rule, sel.f, sel.theta_deg)
    common = dict(seed=seed, key=key, alpha_tot=alpha_tot, direct=direct, mode=mode,
                  chunk=chunk, progress=progress, noise=model.data.noise,
                  softness=sel.softness, metric=sel.metric, power_exp=sel.power_exp,
                  probe_scale=sel.probe_scale, random_share=sel.random_share,
                  snr=model.data.snr, probe=sel.probe, alpha_ssl=sel.alpha_ssl,
                  prototype_method=prototype_method, prototype_source=prototype_source,
                  spectrum=model.data.spectrum, teacher_decay=model.data.teacher_decay)
    if not model.learner.regularized:
        from prunescale.sims.run import simulate_max_margin

        kw = {} if tol is None else {"gap_tol": tol}
        return simulate_max_margin(pruning, alpha_prune, n, seeds,
                                   max_iter=80 if max_iter is None else max_iter, **common,
                                   labels=model.data.labels, **kw)
    from prunescale.sims.erm import simulate_regularized

    kw = {} if tol is None else {"eps_tol": tol}
    if tol is None and model.data.spectrum is not None:
        from prunescale.sims.spectrum import EPS_TOL

        kw = {"eps_tol": EPS_TOL}
    return simulate_regularized(pruning, alpha_prune, n, seeds, learner=model.learner.name,
                                lam=model.learner.lam, reweight=sel.reweight,
                                max_iter=max_iter, **common, labels=model.data.labels, **kw)

