"""The HTTP layer: translates requests into ``ser.inference.Predictor`` calls."""

import ser  # noqa: F401  (first, before numpy loads: ser pins the SIMD code, so the API computes the pipeline's bits)
