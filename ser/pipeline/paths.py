"""Fixed locations of the pipeline's inputs and outputs, relative to the project root."""

from pathlib import Path

RAW_DIR = Path("data/raw")
WAV_DIR = RAW_DIR / "wav"
SPLIT_DIR = Path("data/split")
TRAIN_MANIFEST = SPLIT_DIR / "train.csv"
TEST_MANIFEST = SPLIT_DIR / "test.csv"
FEATURES_FILE = Path("data/features/features.parquet")
CHANNEL_FEATURES_DIR = Path("data/channel_features")
VOICE_SPACE_FILE = Path("data/voice_space/wccn.npy")
VOICE_EMBEDDINGS_DIR = Path("data/voice_embeddings")
MODEL_DIR = Path("models/model")
SPEAKER_NORM_MODEL_DIR = Path("models/speaker_norm")
REPORTS_DIR = Path("reports")
CV_RESULTS = REPORTS_DIR / "cv" / "results.csv"
CV_SUMMARY = REPORTS_DIR / "cv" / "summary.json"
METRICS_FILE = REPORTS_DIR / "metrics.json"
TIMING_FILE = REPORTS_DIR / "timing.json"
CONDITIONS_METRICS = REPORTS_DIR / "conditions.json"
CONDITIONS_CONFUSION = REPORTS_DIR / "conditions_confusion.json"
PLOTS_DIR = REPORTS_DIR / "plots"
SPEAKER_NORM_CV = REPORTS_DIR / "speaker_norm" / "cv.json"
SPEAKER_NORM_METRICS = REPORTS_DIR / "speaker_norm" / "metrics.json"
PARAMS_FILE = Path("params.yaml")


def channel_features_file(condition: str) -> Path:
    """Feature table of every recording heard through one channel condition."""
    return CHANNEL_FEATURES_DIR / f"{condition}.parquet"


def voice_embeddings_file(condition: str) -> Path:
    """Voice-encoder embeddings of the training recordings heard through one channel condition."""
    return VOICE_EMBEDDINGS_DIR / f"{condition}.npy"
