"""One description of a model point: the data, the selection and the learner.

A point of prunescale's model is three frozen, validated, hashable dataclasses:

* :class:`Data`: the input law and the label channel. Inputs ``x ~ N(0, I_N + S u u^T)``
  (``snr`` ``S``, default 0: isotropic; ``u = T / sqrt(N)`` the teacher's unit vector), or
  with a power-law or measured covariance spectrum (``spectrum``, ``teacher_decay``); labels
  ``y = sign(t)``, ``t = T.x / sqrt(N)`` the teacher field, each flipped independently with
  probability ``noise`` (``0 <= noise <= 1/2``), or drawn from a label channel
  ``P(y = +1 | t)`` (``labels``, :mod:`prunescale.theory.labels`).
* :class:`Selection`: how the pool of ``alpha_tot N`` examples is pruned to the kept
  ``alpha_prune N = f alpha_tot N``: the rule (``hard``, ``easy``, ``random``, ``power``), the
  kept fraction ``f``, the probe angle ``theta_deg``, and the policy (``softness`` ``tau``, the
  ``metric`` ``|p|`` or ``y p``, loss ``reweight``, the power policy's ``power_exp`` and
  ``probe_scale``, a mixed policy's ``random_share``) and the ``probe`` (``fixed`` at
  ``theta_deg``, or the label-free ``prototype`` of an unlabeled sample of ``alpha_ssl N``
  inputs); see
  :class:`~prunescale.theory.Pruning` and ``docs/erm.md`` section 7.
* :class:`Learner`: the student, ``max-margin`` or a regularized learner
  (``ridge``, ``logistic``, ``hinge``) with penalty ``lam`` (``docs/erm.md``).

:class:`Model` holds one of each. The same object drives :func:`prunescale.theory.solve`,
:func:`prunescale.sims.simulate`, the command line, the sweep store and the figure cache;
its :meth:`Model.fields` (a flat ``dict``) and :meth:`Model.key` (canonical JSON) name it
everywhere, so a field added here reaches every caller without touching them.

Example:
    >>> m = Model.from_fields(rule="hard", f=0.2, learner="ridge", lam=0.1)
    >>> print(m)
    hard f=0.2 ridge lam=0.1
    >>> m.fields()["noise"]
    0.0
"""

from __future__ import annotations

import dataclasses
import json

from prunescale.errors import InputError
from prunescale.theory import pruning as _pr
from prunescale.theory.pruning import LEARNERS, Pruning

__all__ = ["Data", "Learner", "Model", "Selection", "FIELDS", "LEARNERS"]


def _scalar(name: str, value, check, allowed: str) -> float:
    return _pr._scalar(name, check(value), allowed)


@dataclasses.dataclass(frozen=True)
class Data:
    """Input law and label channel.

    Attributes:
        snr: spike strength ``S`` in ``[0, 1e6]`` of the input covariance ``I + S u u^T`` along
            the teacher's unit vector ``u`` (``0``: isotropic inputs, ``docs/structure.md``).
        noise: probability ``eta`` in ``[0, 0.5]`` that a label ``sign(t)`` is flipped
            (independently per example, pool and test alike).
        labels: a label channel ``P(y = +1 | t)`` (:mod:`prunescale.theory.labels`, a channel
            or its spec such as ``"probit:2"``), or ``None`` (the flip ``noise``). ``flip:ETA``
            is stored as ``noise = ETA``; any other channel needs ``noise = 0``.
        spectrum: the input covariance's spectrum, ``power:A:D`` (eigenvalues proportional to
            ``k^(-A)``, ``k = 1..D``) or ``file:PATH`` (eigenvalues read from a file), normalised
            to mean 1 (:mod:`prunescale.theory.spectrum`, ``docs/spectrum.md``); ``None``
            (default): isotropic inputs. Not with ``snr``.
        teacher_decay: ``B``: the teacher's share of the label-field variance in eigendirection
            ``k`` proportional to ``k^(-B)``; ``None`` (default): a teacher isotropic in input
            space (share proportional to ``lambda_k``). Only with ``spectrum``.
    """

    noise: float = 0.0
    labels: object = None
    snr: float = 0.0
    spectrum: str | None = None
    teacher_decay: float | None = None

    def __post_init__(self):
        from prunescale.theory.labels import as_channel
        from prunescale.theory.spectrum import parse_spectrum

        sp = parse_spectrum(self.spectrum, self.teacher_decay)
        object.__setattr__(self, "spectrum", None if sp is None else sp.spec)
        object.__setattr__(self, "teacher_decay", None if sp is None else sp.teacher_decay)

        object.__setattr__(self, "snr", _scalar("snr", self.snr, _pr.check_snr,
                                                f"in [0, {_pr.SNR_MAX:g}]"))
        if sp is not None and self.snr != 0:
            raise InputError(f"give snr or spectrum, not both; got snr = {self.snr:g} and "
                             f"spectrum {sp.spec} (a spike along the teacher is a spectrum "
                             "of its own)")
        object.__setattr__(self, "noise",
                           _scalar("noise", self.noise, _pr.check_noise, "in [0, 0.5]"))
        ch = as_channel(self.labels)
        if ch is not None and ch.is_flip:  # flip:ETA is the noise ETA (one canonical form)
            if self.noise not in (0.0, ch.eta):
                raise InputError(f"give noise or labels, not both; got noise = {self.noise!r} "
                                 f"and labels {ch}")
            object.__setattr__(self, "noise", ch.eta)
            ch = None
        elif ch is not None and self.noise != 0.0:
            raise InputError(f"give noise or labels, not both; got noise = {self.noise!r} and "
                             f"labels {ch}")
        object.__setattr__(self, "labels", ch)

    @property
    def channel(self):
        """The label channel (:mod:`prunescale.theory.labels`): ``Flip(noise)`` unless a
        non-flip channel was given."""
        from prunescale.theory.labels import Flip

        return Flip(self.noise) if self.labels is None else self.labels

    @property
    def labels_spec(self) -> str:
        """The channel as its spec string (``flip:ETA`` for the flip noise)."""
        return str(self.channel)


@dataclasses.dataclass(frozen=True)
class Selection(Pruning):
    """A pruning rule with its selection policy.

    Attributes:
        rule, f, theta_deg: as :class:`~prunescale.theory.Pruning` (``theta_deg`` in
            ``[0, 90)``; irrelevant for ``random``).
        softness: ``tau`` in ``[0, 10]``: each pool example is kept with probability
            ``sigmoid((k - m)/tau)`` (hard) or ``sigmoid((m - k)/tau)`` (easy), ``k`` such that
            the expected kept fraction is ``f``; ``0`` is the sharp rule.
        metric: ``"abs"`` (``m = |p|``, label-free) or ``"signed"`` (``m = y p``).
        reweight: weight each kept example's loss by ``1/pi(m)`` (regularized learners only).
        power_exp, probe_scale: ``A`` in ``[-50, 50]`` and ``B > 0`` of ``rule = "power"``:
            each pool example kept with probability ``min(c sigma'(B p)^A, 1)``,
            ``sigma'(z) = sigma(z)(1 - sigma(z))``, ``c`` such that the expected kept fraction
            is ``f`` (``A > 0``: hard examples, ``A < 0``: easy, ``A = 0``: random). Label-free.
        random_share: ``R`` in ``[0, 1]``, with ``hard`` or ``easy``: keep with probability
            ``R f + (1 - R) pi_rule(m)`` (``R = 0``: the rule, ``R = 1``: random).
        probe: ``"fixed"`` (the direction at ``theta_deg`` to the teacher) or ``"prototype"``
            (label-free: the top eigenvector ``v`` of the second moments of an independent
            unlabeled sample, the metric the cosine distance ``1 - |v.x| / |x|`` to the
            nearest prototype ``+-v``; ``theta_deg`` must stay 0, the angle follows from
            ``snr`` and ``alpha_ssl``).
        alpha_ssl: the prototype's unlabeled sample per dimension, in ``(0, 1e6]``; ``None``
            (default): the pool size ``alpha_tot``. Prototype probe only.
    """

    softness: float = 0.0
    metric: str = "abs"
    reweight: bool = False
    power_exp: float = 0.0
    probe_scale: float = 1.0
    random_share: float = 0.0
    probe: str = "fixed"
    alpha_ssl: float | None = None

    def __post_init__(self):
        super().__post_init__()
        a = _pr.check_probe(self.probe, self.theta_deg, self.alpha_ssl, self.metric)
        if a is not None:
            object.__setattr__(self, "alpha_ssl", _pr._scalar(
                "alpha_ssl", a, f"in (0, {_pr.ALPHA_SSL_MAX:g}]"))
        object.__setattr__(self, "softness", _scalar(
            "softness", self.softness, _pr.check_softness, f"in [0, {_pr.SOFTNESS_MAX:g}]"))
        _pr.check_metric(self.metric)
        object.__setattr__(self, "reweight", _pr.check_reweight(self.reweight))
        ex, sc, sh = _pr.check_family(self.rule, self.metric, self.power_exp, self.probe_scale,
                                      self.random_share)
        for name, arr, allowed in (("power_exp", ex, "in [-50, 50]"),
                                   ("probe_scale", sc, "> 0"), ("random_share", sh, "in [0, 1]")):
            object.__setattr__(self, name, _pr._scalar(name, arr, allowed))

    @property
    def sharp(self) -> bool:
        """Whether this is the paper's sharp ``|p|`` rule (no softness, no label, no weights,
        no random share; ``random`` and ``power`` are never sharp rank rules)."""
        return (self.rule in ("hard", "easy", "random") and self.softness == 0
                and self.metric == "abs" and not self.reweight and self.random_share == 0)


@dataclasses.dataclass(frozen=True)
class Learner:
    """The student.

    Attributes:
        name: ``"max-margin"`` (the paper's perceptron: largest margin on separable data) or
            ``"ridge"``, ``"logistic"``, ``"hinge"``, minimising
            ``sum_mu loss(y_mu, w.x_mu / sqrt(N)) + lam |w|^2 / 2``.
        lam: the penalty, in ``(0, 1e6]``, for the regularized learners; ``None`` for
            max-margin (which has none).
    """

    name: str = "max-margin"
    lam: float | None = None

    def __post_init__(self):
        _pr.check_learner(self.name)
        lam = _pr.check_penalty(self.name, self.lam)
        if lam is not None:
            lam = _scalar("lam", lam, _pr.check_lam, f"in (0, {_pr.LAM_MAX:g}]")
        object.__setattr__(self, "lam", lam)

    @property
    def regularized(self) -> bool:
        return self.name != "max-margin"


#: the flat field names of a :class:`Model`, in order (what :meth:`Model.fields` returns)
FIELDS = ("rule", "f", "theta_deg", "softness", "metric", "reweight", "learner", "lam", "noise",
          "power_exp", "probe_scale", "random_share", "labels", "snr", "probe", "alpha_ssl",
          "spectrum", "teacher_decay")
#: the policy-family fields, left out of :meth:`Model.key` at their defaults (so the names of
#: model points stored before the families existed do not change)
FAMILY = {"power_exp": 0.0, "probe_scale": 1.0, "random_share": 0.0, "labels": None,
          "snr": 0.0, "probe": "fixed", "alpha_ssl": None, "spectrum": None,
          "teacher_decay": None}
_DEFAULTS = {"theta_deg": 0.0, "softness": 0.0, "metric": "abs", "reweight": False,
             "learner": "max-margin", "lam": None, "noise": 0.0, **FAMILY}


@dataclasses.dataclass(frozen=True)
class Model:
    """One model point: :class:`Selection`, :class:`Learner` and :class:`Data`.

    Validated at construction (one-line :class:`~prunescale.errors.InputError`); frozen and
    hashable. Loss reweighting is refused for the max-margin student (weights do not change
    its solution).
    """

    selection: Selection
    learner: Learner = Learner()
    data: Data = Data()

    def __post_init__(self):
        for name, cls in (("selection", Selection), ("learner", Learner), ("data", Data)):
            if not isinstance(getattr(self, name), cls):
                raise InputError(f"{name} must be a prunescale.model.{cls.__name__}; got "
                                 f"{getattr(self, name)!r}")
        _pr.check_reweight_for(self.learner.name, self.selection.reweight)
        if self.data.spectrum is not None and self.selection.probe != "fixed":
            raise InputError(f"the prototype probe needs spiked inputs (snr), not spectrum "
                             f"{self.data.spectrum}; use probe = fixed")

    @classmethod
    def from_fields(cls, **fields) -> "Model":
        """A model from flat fields (:data:`FIELDS`; ``rule`` and ``f`` required).

        ``lam`` of ``0`` or ``None`` means no penalty (max-margin); unknown names are refused.
        """
        unknown = sorted(set(fields) - set(FIELDS))
        if unknown:
            raise InputError(f"unknown model field {unknown[0]!r}; the fields are "
                             f"{', '.join(FIELDS)}")
        for name in ("rule", "f"):
            if fields.get(name) is None:
                raise InputError(f"a model needs {name}")
        v = {**_DEFAULTS, **{k: x for k, x in fields.items() if x is not None}}
        if v["labels"] == "":  # the stored sweeps' "no channel" (the flip noise)
            v["labels"] = None
        lam = v["lam"]
        if v["learner"] == "max-margin" and lam is not None and lam == 0:
            lam = None  # stored sweeps write lam = 0 for max-margin
        return cls(Selection(v["rule"], v["f"], v["theta_deg"], v["softness"], v["metric"],
                             v["reweight"], v["power_exp"], v["probe_scale"],
                             v["random_share"], v["probe"], v["alpha_ssl"]),
                   Learner(v["learner"], lam), Data(v["noise"], v["labels"], v["snr"],
                                                    v["spectrum"], v["teacher_decay"]))

    def fields(self) -> dict:
        """The flat fields (:data:`FIELDS`), JSON-ready (``lam`` is ``None`` for max-margin)."""
        s, le = self.selection, self.learner
        return {"rule": s.rule, "f": s.f, "theta_deg": s.theta_deg, "softness": s.softness,
                "metric": s.metric, "reweight": s.reweight, "learner": le.name, "lam": le.lam,
                "noise": self.data.noise, "power_exp": s.power_exp, "probe_scale": s.probe_scale,
                "random_share": s.random_share,
                "labels": None if self.data.labels is None else str(self.data.labels),
                "snr": self.data.snr, "probe": s.probe, "alpha_ssl": s.alpha_ssl,
                "spectrum": self.data.spectrum, "teacher_decay": self.data.teacher_decay}

    def replace(self, **fields) -> "Model":
        """A copy with some flat fields changed (validated again)."""
        return Model.from_fields(**{**self.fields(), **fields})

    def key(self) -> str:
        """Canonical JSON of :meth:`fields`: a stable name for task ids and cache keys (the
        :data:`FAMILY` fields only where they differ from their defaults)."""
        d = {k: v for k, v in self.fields().items() if k not in FAMILY or v != FAMILY[k]}
        return json.dumps(d, sort_keys=True, separators=(",", ":"))

    def __str__(self) -> str:
        d = self.fields()
        out = [d["rule"], f"f={d['f']:g}"]
        for k in ("theta_deg", "softness", "metric", "reweight", "power_exp", "probe_scale",
                  "random_share"):
            if d[k] != _DEFAULTS[k]:
                out.append(f"{k}={d[k]:g}" if isinstance(d[k], float) else f"{k}={d[k]}")
        out.append(d["learner"])
        if d["lam"] is not None:
            out.append(f"lam={d['lam']:g}")
        if d["noise"]:
            out.append(f"noise={d['noise']:g}")
        if d["labels"] is not None:
            out.append(f"labels={d['labels']}")
        if d["snr"]:
            out.append(f"snr={d['snr']:g}")
        if d["spectrum"] is not None:
            out.append(f"spectrum={d['spectrum']}")
            if d["teacher_decay"] is not None:
                out.append(f"teacher_decay={d['teacher_decay']:g}")
        if d["probe"] != "fixed":
            out.insert(2, "probe=prototype" + ("" if d["alpha_ssl"] is None
                                               else f" alpha_ssl={d['alpha_ssl']:g}"))
        return " ".join(out)
