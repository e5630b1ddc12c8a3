import numpy as np
import pytest

from ser.features import pretrained, voice_encoder
from ser.features.dataset import feature_table
from ser.features.extractor import FeatureConfig, extract, feature_names
from tests.synthetic import SR, light_config, synthetic_ids, synthetic_signal, write_wav_dir

pytestmark = pytest.mark.unit

CONFIG = light_config(voice_encoder=True)


def _voice_part(vector: np.ndarray) -> np.ndarray:
    return vector[-voice_encoder.N_FEATURES :]


def test_voice_features_extend_the_librosa_vector():
    signal = synthetic_signal("03a01Fa", 1.0)
    with_voice = extract(signal, SR, CONFIG)
    without = extract(signal, SR, light_config())
    assert with_voice.shape == (len(feature_names(CONFIG)),) == (without.size + voice_encoder.N_FEATURES,)
    assert np.array_equal(with_voice[: without.size], without)
    voice = _voice_part(with_voice)
    assert np.all(np.isfinite(voice)) and np.std(voice) > 0
    assert feature_names(CONFIG)[-1] == f"voice_std_{voice_encoder.HIDDEN - 1}"


def test_voice_features_tell_voices_apart():
    a = _voice_part(extract(synthetic_signal("03a01Fa"), SR, CONFIG))
    b = _voice_part(extract(synthetic_signal("08a01Fa"), SR, CONFIG))
    assert not np.allclose(a, b, atol=1e-3)


def test_quiet_audio_is_raised_to_the_encoders_level():
    signal = synthetic_signal("03a01Fa", 1.0)
    rms = float(np.sqrt(np.mean(signal**2)))
    quiet = signal * np.float32(10 ** (-45 / 20) / rms)  # -45 dBFS
    quieter = quiet * np.float32(0.5)  # -51 dBFS
    np.testing.assert_allclose(voice_encoder.features(quiet, SR), voice_encoder.features(quieter, SR), atol=1e-4)
    loud = signal * np.float32(10 ** (-10 / 20) / rms)  # louder than the target: left alone, so it differs
    assert not np.allclose(voice_encoder.features(loud, SR), voice_encoder.features(quiet, SR), atol=1e-3)


def test_parallel_table_with_voice_features_equals_serial(tmp_path):
    write_wav_dir(tmp_path, synthetic_ids(6))
    serial = feature_table(tmp_path, CONFIG, workers=1)
    assert serial.equals(feature_table(tmp_path, CONFIG, workers=2))


def test_layer_choice_changes_the_values_not_the_names():
    signal = synthetic_signal("03a01Fa", 1.0)
    middle, top = (light_config(voice_encoder=True, voice_encoder_layer=layer) for layer in (2, 3))
    assert feature_names(middle) == feature_names(top)
    assert not np.allclose(_voice_part(extract(signal, SR, middle)), _voice_part(extract(signal, SR, top)), atol=1e-3)
    with pytest.raises(ValueError, match="voice_encoder_layer must be 1 to 3"):
        FeatureConfig(voice_encoder=True, voice_encoder_layer=4)


def test_floor_pools_only_the_loud_frames_but_the_lstm_still_hears_the_pause():
    tone = synthetic_signal("03a01Fa", 0.6)
    pause = np.random.default_rng(0).standard_normal(SR // 2).astype(np.float32) * 1e-4  # -80 dB: below any floor
    signal = np.concatenate([tone, pause, tone])
    every = voice_encoder.features(signal, SR)
    floored = voice_encoder.features(signal, SR, floor_db=20.0)
    assert not np.allclose(every, floored, atol=1e-3)
    assert np.array_equal(voice_encoder.features(signal, SR, floor_db=200.0), every)  # a floor below every frame
    mel = voice_encoder.librosa.feature.melspectrogram(
        y=signal, sr=SR, n_fft=voice_encoder.WINDOW, hop_length=voice_encoder.HOP, n_mels=voice_encoder.N_MELS
    )
    loud = voice_encoder.loud_frames(mel, 20.0)
    assert 0.4 < loud.mean() < 0.8 and loud[: loud.size // 4].all()  # the tones, not the pause
    # The pause changes the state the second tone starts from, so the same loud frames give other statistics.
    assert not np.allclose(floored, voice_encoder.features(np.concatenate([tone, tone]), SR, floor_db=20.0), atol=1e-3)


def test_floor_must_be_positive_or_null():
    with pytest.raises(ValueError, match="voice_encoder_floor_db must be above 0 dB"):
        FeatureConfig(voice_encoder=True, voice_encoder_floor_db=0)
    with pytest.raises(ValueError, match="floor_db must be above 0 dB"):
        voice_encoder.features(synthetic_signal("03a01Fa"), SR, floor_db=-3.0)
    assert (
        FeatureConfig.from_params({"voice_encoder": True, "voice_encoder_floor_db": None}).voice_encoder_floor_db
        is None
    )


def test_voice_encoder_needs_16_khz():
    with pytest.raises(ValueError, match="voice_encoder needs sample_rate 16000"):
        light_config(voice_encoder=True, sample_rate=8000)
    with pytest.raises(ValueError, match="needs 16000 Hz"):
        voice_encoder.features(np.zeros(8000, dtype=np.float32), 8000)


def test_missing_weights_name_the_install_command(monkeypatch):
    monkeypatch.setattr(pretrained.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(pretrained.PretrainedWeightsMissing, match=r"requirements-nodeps\.txt"):
        voice_encoder.weights_path()


def test_numpy_lstm_equals_torchs_lstm_with_the_same_weights():
    import librosa
    import torch

    signal = synthetic_signal("03a01Fa", 1.5)
    state = voice_encoder._read_state(voice_encoder.weights_path())
    lstm = torch.nn.LSTM(voice_encoder.N_MELS, voice_encoder.HIDDEN, voice_encoder.LAYERS, batch_first=True)
    lstm_state = {k.removeprefix("lstm."): torch.from_numpy(v) for k, v in state.items() if k.startswith("lstm.")}
    lstm.load_state_dict(lstm_state)
    mel = librosa.feature.melspectrogram(
        y=voice_encoder._level_normalised(signal),
        sr=SR,
        n_fft=voice_encoder.WINDOW,
        hop_length=voice_encoder.HOP,
        n_mels=voice_encoder.N_MELS,
    )
    with torch.no_grad():
        outputs, _ = lstm(torch.from_numpy(np.ascontiguousarray(mel.T, dtype=np.float32))[None])
    hidden = outputs[0].double().numpy()
    expected = np.concatenate([hidden.mean(axis=0), hidden.std(axis=0)])
    np.testing.assert_allclose(voice_encoder.features(signal, SR), expected, atol=1e-5)


def test_other_weights_than_the_pinned_file_are_refused(monkeypatch, tmp_path):
    fake = tmp_path / "resemblyzer"
    fake.mkdir()
    (fake / "pretrained.pt").write_bytes(b"not the weights")
    monkeypatch.setattr(voice_encoder, "weights_path", lambda: fake / "pretrained.pt")
    with pytest.raises(pretrained.PretrainedWeightsMissing, match=r"is not resemblyzer 0\.1\.4's pretrained\.pt"):
        voice_encoder._load()


def test_compiled_tanh_is_within_float32_rounding_of_tanh():
    import numba

    @numba.njit
    def apply(values, out):
        for i in range(values.size):
            out[i] = voice_encoder._tanh(values[i])

    values = np.concatenate([np.linspace(-30, 30, 200_001), [0.0, 1e-30, -1e-30, 7.9, 8.0, 1e4, -1e4]])
    values = values.astype(np.float32)
    out = np.empty_like(values)
    apply(values, out)
    assert np.abs(out - np.tanh(values.astype(np.float64))).max() < 5e-7
