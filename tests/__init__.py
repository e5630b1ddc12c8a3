import ser  # noqa: F401  (first, before numpy loads: ser pins the SIMD code, as in the stages and the API)
