"""Float32 rational approximations that numba inlines into its loops (unlike libm's, they vectorise)."""

from __future__ import annotations

import numba
import numpy as np

# LLVM's fast-math flags minus ``arcp`` and ``afn``: with those, it turns a float32 division in a vectorised loop into
# the approximate-reciprocal instruction (rcpps) plus a Newton step, and that instruction's bits are the CPU's own:
# an Intel and an AMD machine computed different Whisper features (session 15). Contraction into FMA and
# reassociation stay: with the SIMD pins (``ser/__init__.py``) they compile to the same instructions everywhere.
REPRODUCIBLE_FAST_MATH = {"nnan", "ninf", "nsz", "contract", "reassoc"}  # numba takes a set (not a frozenset)


def float32_coefficients(*values: float) -> tuple[np.float32, ...]:
    """Coefficients typed as float32, so that the evaluation stays in float32."""
    return tuple(np.float32(value) for value in values)


@numba.njit(fastmath=REPRODUCIBLE_FAST_MATH, inline="always", cache=True)
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
