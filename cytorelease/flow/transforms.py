"""Scale transforms with GatingML 2.0 parameter semantics.

Every transform is a frozen dataclass with ``apply(x)`` and ``inverse(y)`` over numpy arrays
(float64 out) and maps the data value ``T`` (top of scale) to 1.0, as GatingML 2.0 defines:

- ``LinearTransform(T, A)``: ``flin(x) = (x + A) / (T + A)``
- ``LogTransform(T, M)``: ``flog(x) = log10(x / T) / M + 1``
- ``AsinhTransform(T, M, A)``: ``fasinh(x) = (asinh(x sinh(M ln10) / T) + A ln10) / ((M + A) ln10)``
- ``LogicleTransform(T, W, M, A)``: the root y of ``B(y) = x``, B the Moore-Parks biexponential
- ``HyperlogTransform(T, W, M, A)``: the root y of ``EH(y) = x``, Bagwell's hyperlog

Logicle and hyperlog run in a numba kernel, parallel over values
(:mod:`cytorelease.flow._biexp_kernel`); they agree with ``flowutils.transforms`` to 1e-6
absolute on this 0..1 output scale (in practice to about 1e-13).

``id`` is an optional name (GatingML ``transforms:id``); it takes no part in equality, so two
transforms with the same parameters are the same transform.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

import numpy as np

from cytorelease.errors import TemplateError
from cytorelease.flow import _biexp_kernel as kernel

__all__ = [
    "AsinhTransform",
    "HyperlogTransform",
    "LinearTransform",
    "LogTransform",
    "LogicleTransform",
    "Transform",
    "TransformKind",
]

_LN10 = math.log(10.0)


class TransformKind(StrEnum):
    """GatingML 2.0 element names of the scale transforms."""

    LINEAR = "flin"
    LOG = "flog"
    ASINH = "fasinh"
    LOGICLE = "logicle"
    HYPERLOG = "hyperlog"
    # FlowJo 10's own scales (transforms_flowjo.py); GatingML has no element for them, so
    # TRANSFORM_CLASSES (what a GatingML document may name) leaves them out
    FLOWJO_LOG = "flowjo-log"
    FLOWJO_BIEX = "flowjo-biex"


def _as_float64(x: np.ndarray | float) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


@dataclass(frozen=True)
class Transform(ABC):
    """A scale transform; subclasses define their GatingML parameters as fields."""

    kind: ClassVar[TransformKind]
    id: str | None = field(default=None, compare=False, kw_only=True)

    @abstractmethod
    def apply(self, x: np.ndarray | float) -> np.ndarray:
        """Data values to the transformed scale."""

    @abstractmethod
    def inverse(self, y: np.ndarray | float) -> np.ndarray:
        """Transformed values back to data values."""

    @property
    @abstractmethod
    def parameters(self) -> dict[str, float]:
        """The GatingML parameters by their attribute names (T, W, M, A)."""

    def describe(self) -> str:
        params = ", ".join(f"{k}={v:g}" for k, v in self.parameters.items())
        return f"{self.kind.value}({params})"

    def _require(self, condition: bool, rule: str) -> None:
        if not condition:
            raise TemplateError(f"invalid {self.describe()}: {rule}")

    def check_evaluable(self) -> None:
        """Evaluate the scale once (a thousandth of its top, half, the top) so that parameters
        inside their ranges that still cannot be computed (logicle M 200 or T 1e-300, fasinh M
        400, T + A past the largest float) are refused where the scale is defined, naming it,
        not left to fail, or to give no value, when events are gated."""
        top = float(getattr(self, "T", 1.0))
        try:
            with np.errstate(all="ignore"):  # a value that is not finite is refused below
                values = self.apply(np.array([top * 1e-3, top / 2.0, top]))
        except TemplateError:
            raise
        except (ArithmeticError, ValueError, SystemError) as error:
            # a compiled kernel's SystemError quotes its address, which names nothing
            why = type(error).__name__ + ("" if isinstance(error, SystemError) else f": {error}")
            raise TemplateError(
                f"{self.describe()} cannot be evaluated ({why})",
                hint="check its parameters (T, W, M, A)",
            ) from None
        if not np.isfinite(values).all():
            raise TemplateError(f"{self.describe()} gives no finite value between T/1000 and T")


@dataclass(frozen=True)
class LinearTransform(Transform):
    kind: ClassVar[TransformKind] = TransformKind.LINEAR
    T: float = 262144.0
    A: float = 0.0

    def __post_init__(self) -> None:
        self._require(self.T > 0 and self.A >= 0 and self.A <= self.T, "needs T > 0, 0 <= A <= T")

    def apply(self, x: np.ndarray | float) -> np.ndarray:
        return (_as_float64(x) + self.A) / (self.T + self.A)

    def inverse(self, y: np.ndarray | float) -> np.ndarray:
        return _as_float64(y) * (self.T + self.A) - self.A

    @property
    def parameters(self) -> dict[str, float]:
        return {"T": self.T, "A": self.A}


@dataclass(frozen=True)
class LogTransform(Transform):
    kind: ClassVar[TransformKind] = TransformKind.LOG
    T: float = 262144.0
    M: float = 4.5

    def __post_init__(self) -> None:
        self._require(self.T > 0 and self.M > 0, "needs T > 0 and M > 0")

    def apply(self, x: np.ndarray | float) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(_as_float64(x) / self.T) / self.M + 1.0

    def inverse(self, y: np.ndarray | float) -> np.ndarray:
        return self.T * 10.0 ** ((_as_float64(y) - 1.0) * self.M)

    @property
    def parameters(self) -> dict[str, float]:
        return {"T": self.T, "M": self.M}


@dataclass(frozen=True)
class AsinhTransform(Transform):
    kind: ClassVar[TransformKind] = TransformKind.ASINH
    T: float = 262144.0
    M: float = 4.5
    A: float = 0.0

    def __post_init__(self) -> None:
        self._require(
            self.T > 0 and self.M > 0 and 0 <= self.A <= self.M, "needs T > 0, M > 0, 0 <= A <= M"
        )

    def _constants(self) -> tuple[float, float, float]:
        return math.sinh(self.M * _LN10) / self.T, self.A * _LN10, (self.M + self.A) * _LN10

    def apply(self, x: np.ndarray | float) -> np.ndarray:
        pre_scale, shift, divisor = self._constants()
        return (np.arcsinh(_as_float64(x) * pre_scale) + shift) / divisor

    def inverse(self, y: np.ndarray | float) -> np.ndarray:
        pre_scale, shift, divisor = self._constants()
        return np.sinh(_as_float64(y) * divisor - shift) / pre_scale

    @property
    def parameters(self) -> dict[str, float]:
        return {"T": self.T, "M": self.M, "A": self.A}


@dataclass(frozen=True)
class _BiexponentialTransform(Transform):
    T: float = 262144.0
    W: float = 0.5
    M: float = 4.5
    A: float = 0.0

    def __post_init__(self) -> None:
        self._require(
            self.T > 0 and self.M > 0 and 0 <= self.W <= self.M / 2 and -self.W <= self.A <= self.M,
            "needs T > 0, M > 0, 0 <= W <= M/2, -W <= A <= M",
        )

    @property
    def parameters(self) -> dict[str, float]:
        return {"T": self.T, "W": self.W, "M": self.M, "A": self.A}


@dataclass(frozen=True)
class LogicleTransform(_BiexponentialTransform):
    kind: ClassVar[TransformKind] = TransformKind.LOGICLE

    def apply(self, x: np.ndarray | float) -> np.ndarray:
        return kernel.logicle_scale(self.T, self.W, self.M, self.A).scale(_as_float64(x))

    def inverse(self, y: np.ndarray | float) -> np.ndarray:
        return kernel.logicle_scale(self.T, self.W, self.M, self.A).inverse(_as_float64(y))


@dataclass(frozen=True)
class HyperlogTransform(_BiexponentialTransform):
    kind: ClassVar[TransformKind] = TransformKind.HYPERLOG

    def __post_init__(self) -> None:
        super().__post_init__()
        self._require(self.W > 0, "needs W > 0")

    def apply(self, x: np.ndarray | float) -> np.ndarray:
        return kernel.hyperlog_scale(self.T, self.W, self.M, self.A).scale(_as_float64(x))

    def inverse(self, y: np.ndarray | float) -> np.ndarray:
        return kernel.hyperlog_scale(self.T, self.W, self.M, self.A).inverse(_as_float64(y))


TRANSFORM_CLASSES: dict[TransformKind, type[Transform]] = {
    cls.kind: cls
    for cls in (
        LinearTransform,
        LogTransform,
        AsinhTransform,
        LogicleTransform,
        HyperlogTransform,
    )
}
