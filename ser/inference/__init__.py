"""Inference: one `Predictor` (load, warm up, predict audio or EmoDB ids) and call analysis on top of it (`calls`)."""
