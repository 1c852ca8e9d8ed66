"""The size of a simulation before it runs: :func:`plan`.

A simulation of a model point at dimension ``N`` draws a pool of ``P_tot = round(alpha_tot N)``
examples and keeps ``P = round(f P_tot)`` (:func:`prunescale.sims.run.realised_sizes`, which
refuses what a finite ``N`` cannot realise); it solves ``chunk`` students per compiled block
(:func:`prunescale.sims.run.block_size`) in about ``8 (6 P N + 4 N^2 + 4 P_tot)`` bytes per
student (:func:`prunescale.sims.run.estimate_memory`; a prototype probe adds its unlabeled
sample, :func:`prunescale.sims.spiked.prepare`), and configurations of equal
:attr:`RunPlan.shape` share their compiled programs (:func:`prunescale.sims.prune.program_shape`).
The command line sizes whole grids with it before starting any of them.
"""

from __future__ import annotations

import dataclasses

__all__ = ["RunPlan", "plan"]


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """What one ``(model, N)`` simulation needs.

    Attributes:
        n_pool: pool size ``P_tot``.
        n_kept: kept-set size ``P``.
        chunk: students per compiled block.
        memory: estimated bytes of one block.
        shape: the key of its compiled programs (equal keys share them).
    """

    n_pool: int
    n_kept: int
    chunk: int
    memory: int
    shape: tuple


def plan(model, n: int, alpha_prune: float, alpha_tot: float, *, mode: str = "pool",
         chunk: int | None = None, check_memory: bool = True,
         prototype_method: str = "eigen", prototype_source: str = "independent") -> RunPlan:
    """Sizes, block, memory and program shape of simulating ``model`` at dimension ``n``.

    Args:
        model: a :class:`prunescale.model.Model`.
        n: input dimension ``N``.
        alpha_prune: kept examples per dimension.
        alpha_tot: pool examples per dimension (``alpha_prune = f alpha_tot``).
        mode: ``"pool"``, ``"direct"`` or ``"materialize"`` (as :func:`prunescale.sims.simulate`).
        chunk: students per block (default: the simulator's).
        check_memory: refuse a block that needs more memory than is available.
        prototype_method: the prototype probe's method, ``"eigen"`` or ``"kmeans"`` (as
            :func:`prunescale.sims.simulate`).
        prototype_source: the prototype's sample, ``"independent"`` (counted in the memory)
            or ``"pool"``.

    Raises:
        InputError: one line, for a configuration this ``N`` cannot realise, a block that
            would not fit in memory, or a spectrum whose ``D`` is not ``n``.
    """
    from prunescale.sims import run
    from prunescale.sims.prune import program_shape

    from prunescale.sims import spiked
    from prunescale.sims.prune import MAX_MARGIN_PER_OCTAVE, bucket

    s = model.selection
    if model.data.spectrum is not None:  # N = D, and a D that fits (sims.spectrum)
        from prunescale.sims.spectrum import check_dimension, check_fits
        from prunescale.theory.spectrum import parse_spectrum

        check_dimension(n, parse_spectrum(model.data.spectrum).dim)
        if check_memory:
            check_fits(n, alpha_tot)
    n_pool, n_kept = run.realised_sizes(s, n, alpha_prune, alpha_tot)
    chunk = chunk or run.block_size(n, n_kept)
    memory = run.estimate_memory(n, n_pool, n_kept, chunk, mode)
    if s.probe == "prototype":  # the unlabeled sample (refused here if one student won't fit)
        per = MAX_MARGIN_PER_OCTAVE if model.learner.name == "max-margin" else None
        memory += chunk * spiked.prepare(
            s, n, n_pool, n_kept, alpha_tot, bucket(n_kept, per), snr=model.data.snr,
            probe=s.probe, alpha_ssl=s.alpha_ssl, method=prototype_method,
            source=prototype_source, mode=mode, metric=s.metric,
            labels=model.data.labels)[3]
    if check_memory:
        run.check_memory(memory)
    policy = s.softness > 0 or s.metric != "abs"
    return RunPlan(n_pool, n_kept, chunk, memory,
                   program_shape(model.learner.name, n, n_kept, policy))
