"""A small served project: synthetic recordings, their feature table and a model trained on them."""

from __future__ import annotations

import json
from pathlib import Path

from ser.features.dataset import feature_table
from ser.features.extractor import FeatureConfig
from ser.models.training import train
from ser.pipeline.params import load_params
from serve.settings import Settings
from tests.project_copy import ROOT
from tests.synthetic import synthetic_ids, write_wav_dir


def build_served_project(root: Path, model_spec: dict | None = None) -> Settings:
    """Write wavs, a model trained on their features, metrics and params under ``root``; return API settings."""
    wav_dir = root / "data/raw/wav"
    write_wav_dir(wav_dir, synthetic_ids(140))
    config = FeatureConfig.from_params(load_params(ROOT / "params.yaml")["features"])  # the served configuration
    table = feature_table(wav_dir, config)
    labels = [int("NWLEAFT".index(i[5])) for i in table.index]
    artifact = train(model_spec or {"family": "logreg", "seed": 0}, config, table.to_numpy(), labels, {})
    artifact.metadata["train_speakers"] = sorted({i[:2] for i in table.index})
    artifact.save(root / "models/model")
    metrics_file = root / "reports/metrics.json"
    metrics_file.parent.mkdir(parents=True, exist_ok=True)
    metrics_file.write_text(json.dumps({"accuracy": 0.9, "model_version": artifact.version}))
    (root / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    return Settings(
        project_dir=root,
        model_dir=root / "models/model",
        wav_dir=wav_dir,
        metrics_file=metrics_file,
        jobs_dir=root / "runs/jobs",
        reload_check_seconds=0.0,
    )
