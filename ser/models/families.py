"""Model families, built from a flat spec dict (as written in params.yaml) into scikit-learn pipelines."""

from __future__ import annotations

from typing import Any

from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ser.errors import SerError

FAMILIES = ("logreg", "svm", "rf", "xgb", "mlp")

# Hyper-parameters each family reads from a spec, with their defaults.
FAMILY_PARAMS: dict[str, dict[str, Any]] = {
    "logreg": {"C": 1.0, "max_iter": 2000, "class_weight": None},
    "svm": {"C": 1.0, "kernel": "rbf", "gamma": "scale", "class_weight": None},
    "rf": {"n_estimators": 100, "max_depth": None, "class_weight": None},
    "xgb": {
        "n_estimators": 100,
        "max_depth": 3,
        "learning_rate": 0.1,
        "subsample": 0.8,
        "colsample_bytree": 0.5,
        "max_bin": 32,
    },
    "mlp": {
        "hidden": 100,
        "batch_norm": False,
        "dropout": 0.0,
        "epochs": 60,
        "learning_rate": 1e-3,
        "weight_decay": 1e-4,
        "label_smoothing": 0.0,
        "batch_size": 64,
        "class_weight": None,
        "members": 1,
    },
}


class SpecError(SerError, ValueError):
    """A model spec names an unknown family or a parameter the family does not take."""


def resolve_spec(spec: dict[str, Any], strict: bool = True) -> dict[str, Any]:
    """Family, seed and that family's hyper-parameters, defaults filled in.

    ``strict`` rejects keys the family does not take; otherwise keys of other families are ignored
    (the ``model:`` params block holds the hyper-parameters of every family), but unknown keys are not.
    """
    family = spec.get("family")
    if family not in FAMILY_PARAMS:
        raise SpecError(f"unknown model family {family!r}; choose from {list(FAMILIES)}")
    allowed = set(FAMILY_PARAMS[family]) if strict else {k for p in FAMILY_PARAMS.values() for k in p}
    unknown = sorted(set(spec) - allowed - {"family", "seed"})
    if unknown:
        raise SpecError(f"model family {family!r} does not take {unknown}")
    resolved = {"family": family, "seed": int(spec.get("seed", 0))}
    for name, default in FAMILY_PARAMS[family].items():
        resolved[name] = spec.get(name, default)
    return resolved


def _classifier(spec: dict[str, Any]) -> Any:
    family, seed = spec["family"], spec["seed"]
    params = {k: v for k, v in spec.items() if k not in ("family", "seed")}
    # Imported per family so that loading one model does not import every library.
    if family == "logreg":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(**params, random_state=seed)
    if family == "svm":
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import SVC

        # Platt-calibrated probabilities fitted on internal folds of the training data.
        return CalibratedClassifierCV(SVC(**params, random_state=seed), ensemble=False)
    if family == "rf":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(**params, random_state=seed, n_jobs=1)
    if family == "xgb":
        from xgboost import XGBClassifier

        return XGBClassifier(**params, random_state=seed, n_jobs=1, tree_method="hist")
    from ser.models.mlp import TorchMLPClassifier

    return TorchMLPClassifier(**params, seed=seed)


def build_estimator(spec: dict[str, Any]) -> Pipeline:
    """A fresh unfitted pipeline (standardisation, then the classifier) for a model spec."""
    resolved = resolve_spec(spec, strict=False)
    return Pipeline([("scale", StandardScaler()), ("classify", _classifier(resolved))])
