"""The regression half of the spillover estimate: robust slopes, refined until compensated.

Each coefficient starts as the slope of a robust (Huber M-estimator) line of a secondary
detector on the control's primary detector, fitted to the control's positive events (the
caller chooses them: spillover_estimate.py).
Then, as in AutoSpill (Roca et al., Nat Commun 2021), the controls are compensated with the
current matrix and the same lines are fitted to the compensated values: a perfectly
compensated control has a flat line, and the slope left over (the *compensation error*) is
folded back into the matrix. That repeats until every error is below ``tolerance``.

The regression is statsmodels' ``RLM`` with Huber's norm (t = 1.345) and a MAD scale, the same
estimator as the R ``MASS::rlm`` default the method was published with. Saturated events are
left out before (spillover_estimate.py), and the 0.1 % most extreme of the primary here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cytorelease.errors import InputError

__all__ = ["Refined", "compensate_control", "refine_spillover", "robust_slope"]

# each tail of the primary left out of a line: the events of extreme leverage. Only the
# primary is trimmed (choosing events by x does not bias a slope; choosing them by y would),
# and only 0.1 %: AutoSpill's 1 % of each tail would drop every positive of a control whose
# positives are fewer than 1 % of its events.
TRIM_FRACTION = 0.001
_RLM_MAX_ITERATIONS = 100


@dataclass(frozen=True)
class Line:
    slope: float
    standard_error: float


def robust_slope(x: np.ndarray, y: np.ndarray, where: str) -> Line:
    """The Huber line of ``y`` on ``x`` (with an intercept) over the events inside the
    0.1-99.9 % range of ``x``; ``where`` names the pair in a refusal."""
    import statsmodels.api as sm

    low, high = np.quantile(x, (TRIM_FRACTION, 1.0 - TRIM_FRACTION))
    keep = (x >= low) & (x <= high)
    xs, ys = x[keep], y[keep]
    if xs.size < 3 or np.ptp(xs) == 0.0:
        raise InputError(f"{where}: too few distinct events left to fit a line")
    design = np.column_stack([np.ones_like(xs), xs])
    fit = sm.RLM(ys, design, M=sm.robust.norms.HuberT()).fit(maxiter=_RLM_MAX_ITERATIONS)
    if fit.fit_history["iteration"] >= _RLM_MAX_ITERATIONS:
        raise InputError(
            f"{where}: the robust regression did not converge in {_RLM_MAX_ITERATIONS} "
            "iterations (the control's events do not lie along a line)"
        )
    return Line(float(fit.params[1]), float(fit.bse[1]))


def compensate_control(
    values: np.ndarray, spillover: np.ndarray, primaries: Sequence[int]
) -> np.ndarray:
    """Compensate one control's detector values (n x detectors) with a (controls x detectors)
    spillover whose control ``i`` is read in detector ``primaries[i]``.

    The primaries' block is square and solved exactly; a detector no control is read in keeps
    what the controls' spillover into it does not explain (its value minus each compensated
    fluorochrome times its coefficient).
    """
    primary = list(primaries)
    others = [j for j in range(values.shape[1]) if j not in primary]
    block = spillover[:, primary]
    out = np.array(values, dtype=np.float64, copy=True)
    solved = np.linalg.solve(block.T, values[:, primary].T).T
    out[:, primary] = solved
    if others:
        out[:, others] = values[:, others] - solved @ spillover[:, others]
    return out


@dataclass(frozen=True)
class Refined:
    """The refined matrix, the compensation error left at it, and how it got there."""

    spillover: np.ndarray  # controls x detectors, 1 at each control's primary
    residuals: np.ndarray  # compensation error per pair at ``spillover`` (0 at the primary)
    standard_errors: np.ndarray  # the last lines' slope standard errors (0 at the primary)
    iterations: int
    history: tuple[float, ...]  # the largest |error| before each update


def _errors(
    controls: Sequence[np.ndarray],
    spillover: np.ndarray,
    primaries: Sequence[int],
    names: Sequence[str],
    detectors: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    errors = np.zeros_like(spillover)
    standard_errors = np.zeros_like(spillover)
    for i, values in enumerate(controls):
        compensated = compensate_control(values, spillover, primaries)
        x = compensated[:, primaries[i]]
        for j in range(spillover.shape[1]):
            if j == primaries[i]:
                continue
            line = robust_slope(
                x, compensated[:, j], f"control {names[i]}: {detectors[j]} on its primary"
            )
            errors[i, j], standard_errors[i, j] = line.slope, line.standard_error
    return errors, standard_errors


def refine_spillover(
    controls: Sequence[np.ndarray],
    primaries: Sequence[int],
    *,
    names: Sequence[str],
    detectors: Sequence[str],
    tolerance: float,
    max_iterations: int,
) -> Refined:
    """Estimate and refine the spillover of ``controls`` (each n_i x detectors, usable events)
    whose control ``i`` is read in detector ``primaries[i]``.

    Starting from no spillover, the compensation error ``E`` of each control is fitted and the
    matrix updated as ``S + E_P S`` (``E_P``: the errors in the primaries' columns, which
    mix the fluorochromes) plus ``E`` in the other detectors' columns, each row then scaled to 1
    at its primary. The first update is the plain robust regression on the raw values. It stops
    when every |error| is below ``tolerance``; not converging in ``max_iterations`` is refused.
    """
    k, m = len(controls), controls[0].shape[1]
    primary = list(primaries)
    others = [j for j in range(m) if j not in primary]
    spillover = np.zeros((k, m))
    spillover[np.arange(k), primary] = 1.0
    history: list[float] = []
    for iteration in range(max_iterations + 1):
        errors, standard_errors = _errors(controls, spillover, primary, names, detectors)
        worst = float(np.max(np.abs(errors)))
        if worst < tolerance:
            return Refined(spillover, errors, standard_errors, iteration, tuple(history))
        history.append(worst)
        if iteration == max_iterations:
            break
        updated = spillover + errors[:, primary] @ spillover
        if others:
            updated[:, others] += errors[:, others]
        spillover = updated / updated[np.arange(k), primary][:, None]
    raise InputError(
        f"the spillover estimate did not converge: after {max_iterations} refinements a "
        f"compensation error of {history[-1]:.2g} remains (tolerance {tolerance:g})",
        hint="the controls may not be single stains, or a stain is not linear in its detectors",
    )
