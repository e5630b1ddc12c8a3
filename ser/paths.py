"""Fixed locations of the pipeline's inputs and outputs, relative to the project root."""

from pathlib import Path

RAW_DIR = Path("data/raw")
WAV_DIR = RAW_DIR / "wav"
SPLIT_DIR = Path("data/split")
TRAIN_MANIFEST = SPLIT_DIR / "train.csv"
TEST_MANIFEST = SPLIT_DIR / "test.csv"
FEATURES_FILE = Path("data/features/features.parquet")
MODEL_DIR = Path("models/model")
SPEAKER_NORM_MODEL_DIR = Path("models/speaker_norm")
REPORTS_DIR = Path("reports")
CV_RESULTS = REPORTS_DIR / "cv" / "results.csv"
CV_SUMMARY = REPORTS_DIR / "cv" / "summary.json"
METRICS_FILE = REPORTS_DIR / "metrics.json"
TIMING_FILE = REPORTS_DIR / "timing.json"
CONFUSION_FILE = REPORTS_DIR / "plots" / "confusion.csv"
PER_CLASS_FILE = REPORTS_DIR / "plots" / "per_class_f1.csv"
SPEAKER_NORM_CV = REPORTS_DIR / "speaker_norm" / "cv.json"
SPEAKER_NORM_METRICS = REPORTS_DIR / "speaker_norm" / "metrics.json"
PARAMS_FILE = Path("params.yaml")
