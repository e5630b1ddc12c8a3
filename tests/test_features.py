import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ser.features.dataset import feature_table, features_of_file
from ser.features.extractor import ABSENT_FROM_OLD_ARTIFACTS, FeatureConfig, extract, feature_names
from ser.pipeline.params import load_params
from tests.project_copy import ROOT
from tests.synthetic import SR, light_config, synthetic_ids, synthetic_signal, write_wav_dir

pytestmark = pytest.mark.unit

CONFIG = light_config()


def test_vector_matches_feature_names():
    vector = extract(synthetic_signal("03a01Fa", 1.0), SR, CONFIG)
    assert vector.shape == (len(feature_names(CONFIG)),)
    assert np.all(np.isfinite(vector))


def test_features_are_deterministic():
    signal = synthetic_signal("08b10Wa", 1.0)
    assert np.array_equal(extract(signal, SR, CONFIG), extract(signal.copy(), SR, CONFIG))


def test_parallel_table_equals_serial_and_file_path(tmp_path):
    write_wav_dir(tmp_path, synthetic_ids(12))
    serial = feature_table(tmp_path, CONFIG, workers=1)
    parallel = feature_table(tmp_path, CONFIG, workers=2)
    assert list(serial.index) == sorted(serial.index)
    assert serial.equals(parallel)
    one = features_of_file(tmp_path / f"{serial.index[3]}.wav", CONFIG).astype(np.float32)
    assert np.array_equal(serial.iloc[3].to_numpy(), one)


def test_different_emotions_give_different_features():
    assert not np.allclose(
        extract(synthetic_signal("03a01Fa"), SR, CONFIG), extract(synthetic_signal("03a01Wa"), SR, CONFIG)
    )


@pytest.mark.parametrize(
    ("signal", "sr", "message"),
    [
        (np.zeros(8000, dtype=np.float32), 8000, "expect 16000 Hz"),
        (np.zeros(100, dtype=np.float32), SR, "too short"),
        (np.full(8000, np.nan, dtype=np.float32), SR, "NaN"),
        (np.zeros((2, 8000), dtype=np.float32), SR, "mono"),
    ],
)
def test_unusable_signals_are_rejected(signal, sr, message):
    with pytest.raises(ValueError, match=message):
        extract(signal, sr, CONFIG)


def test_silence_gives_finite_features():
    assert np.all(np.isfinite(extract(np.zeros(SR, dtype=np.float32), SR, CONFIG)))


def test_config_rejects_unknown_statistic():
    with pytest.raises(ValueError, match="unknown feature statistics"):
        FeatureConfig(statistics=("mean", "median"))


def test_config_from_params_ignores_non_feature_keys():
    config = FeatureConfig.from_params({"n_mfcc": 13, "statistics": ["mean"], "comment": "x"})
    assert config.n_mfcc == 13 and config.statistics == ("mean",)
    assert FeatureConfig.from_params(config.to_dict()) == config


def test_every_statistic_is_computable():
    from ser.features.extractor import STATISTICS

    config = light_config(statistics=STATISTICS)
    vector = extract(synthetic_signal("03a01Fa", 0.5), SR, config)
    assert vector.shape == (len(feature_names(config)),)


@pytest.mark.parametrize(
    ("module", "kernel", "settings"),
    [("voice_encoder", "_lstm_steps", "voice_encoder=True"), ("whisper_encoder", "_gelu_in_place", "whisper_blocks=2")],
)
def test_prepare_compiles_the_numba_code_before_the_first_extract(module, kernel, settings):
    script = (
        f"from ser.features import {module}\n"
        "from ser.features.extractor import FeatureConfig, prepare\n"
        f"assert not {module}.{kernel}.signatures\n"
        f"prepare(FeatureConfig({settings}))\n"
        f"print(len({module}.{kernel}.signatures))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=Path(__file__).parents[1]
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "1"


def test_defaults_are_the_params_yaml_features():
    """One place for every default: FeatureConfig() is what the pipeline trains and the API serves."""
    assert FeatureConfig() == FeatureConfig.from_params(load_params(ROOT / "params.yaml")["features"])


def test_a_choice_absent_from_an_old_artifact_was_off():
    stored = {key: value for key, value in FeatureConfig().to_dict().items() if key not in ABSENT_FROM_OLD_ARTIFACTS}
    old = FeatureConfig.from_stored(stored)
    assert (old.whisper_blocks, old.level_dbfs, old.voice_encoder, old.remove_dc) == (None, None, False, False)
    assert FeatureConfig.from_stored(FeatureConfig().to_dict()) == FeatureConfig()
