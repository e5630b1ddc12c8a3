"""Float32 rational approximations that numba inlines into its loops (unlike libm's, they vectorise)."""

from __future__ import annotations

import numba
import numpy as np


def float32_coefficients(*values: float) -> tuple[np.float32, ...]:
    """Coefficients typed as float32, so that the evaluation stays in float32."""
    return tuple(np.float32(value) for value in values)


@numba.njit(fastmath=True, inline="always", cache=True)
def odd_rational(x, clamp, numerator, denominator):  # type: ignore[no-untyped-def]  # pragma: no cover (compiled)
    """x * P(x^2) / Q(x^2) of ``x`` clamped to [-clamp, clamp]; coefficients highest power first."""
    x = min(max(x, -clamp), clamp)
    x2 = x * x
    p = numerator[0]
    for coefficient in numerator[1:]:
        p = p * x2 + coefficient
    q = denominator[0]
    for coefficient in denominator[1:]:
        q = q * x2 + coefficient
    return x * p / q
