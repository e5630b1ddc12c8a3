"""Classification metrics in the shape the pipeline reports them."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from ser.data.emodb import CODES, EMOTIONS

# Figures a model can be selected by (cv.metric); "uar" is macro recall, the unweighted average recall.
SELECTION_METRICS = ("accuracy", "uar", "macro_precision", "macro_f1")


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, object]:
    """Accuracy, UAR (macro recall), macro precision/recall/F1 and per-emotion precision/recall/F1."""
    labels = list(range(len(CODES)))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    present = support > 0
    per_class = {
        EMOTIONS[code]: {
            "precision": round(float(precision[i]), 6),
            "recall": round(float(recall[i]), 6),
            "f1": round(float(f1[i]), 6),
            "support": int(support[i]),
        }
        for i, code in enumerate(CODES)
    }
    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 6),
        "uar": round(float(recall[present].mean()), 6),
        "macro_precision": round(float(precision[present].mean()), 6),
        "macro_recall": round(float(recall[present].mean()), 6),
        "macro_f1": round(float(f1[present].mean()), 6),
        "n": len(y_true),
        "per_class": per_class,
    }
