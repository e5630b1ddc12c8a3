"""Channel conditions: real codecs, seeded draws, noise at the asked SNR, babble without the own speaker."""

import av
import numpy as np
import pytest
import soundfile as sf

from ser.audio.channels import CLEAN, CODECS, Condition, condition_lists, conditions_from_params, ffmpeg_encoded
from ser.errors import ParamsError
from ser.features.dataset import BabblePool, SameVoicePool
from ser.features.extractor import FeatureConfig, extract

pytestmark = pytest.mark.unit

SR = 16000


def speech_like(seconds: float = 1.5, seed: int = 0) -> np.ndarray:
    """A voiced, gliding harmonic tone with a syllable-rate envelope and a little breath noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voiced = sum(np.sin(k * phase) / k for k in range(1, 15))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    return (0.3 * voiced * envelope / 3 + 0.005 * rng.standard_normal(t.size)).astype(np.float32)


def condition(steps, name="test", seed=1, babble=None) -> Condition:
    return Condition(name, steps, seed, babble)


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    n = min(clean.size, noisy.size)
    return float(10 * np.log10(np.sum(clean[:n] ** 2) / np.sum((noisy[:n] - clean[:n]) ** 2)))


@pytest.mark.parametrize("codec", CODECS)
def test_every_codec_changes_the_audio_but_keeps_its_pitch(codec):
    signal = speech_like()
    out, sr = condition([{"resample": 8000}, {"codec": codec}]).apply(signal, SR, "03a01Fa")
    assert sr in (8000, 16000, 48000)  # Opus decodes at 48 kHz
    narrow = condition([{"resample": 8000}]).apply(signal, SR, "03a01Fa")[0]
    back = condition([{"resample": 8000}]).apply(out, sr, "x")[0] if sr != 8000 else out
    assert not np.array_equal(back[: narrow.size], narrow[: back.size])
    spectrum = np.abs(np.fft.rfft(back[:8000] * np.hanning(8000)))
    reference = np.abs(np.fft.rfft(narrow[:8000] * np.hanning(8000)))
    # The same harmonics stand out: the codec kept the voice (correlated spectra), only degraded it.
    assert np.corrcoef(np.log1p(spectrum), np.log1p(reference))[0, 1] > 0.8


def test_mu_law_is_the_real_g711_quantiser():
    """libsndfile's μ-law: 8-bit codes, about 38 dB SNR on a loud signal; A-law differs from it."""
    signal = speech_like()
    ulaw = condition([{"codec": "ulaw"}]).apply(signal, SR, "a")[0]
    alaw = condition([{"codec": "alaw"}]).apply(signal, SR, "a")[0]
    assert 30 < snr_db(signal, ulaw) < 45
    assert not np.array_equal(ulaw, alaw)


@pytest.mark.parametrize("codec", ["opus", "mp3"])
def test_bitrate_changes_the_quality(codec):
    signal = speech_like()
    low = condition([{"resample": 8000}, {"codec": {"name": codec, "bitrate": 8000}}]).apply(signal, SR, "a")[0]
    high = condition([{"resample": 8000}, {"codec": {"name": codec, "bitrate": 32000}}]).apply(signal, SR, "a")[0]
    assert snr_db(high, low) < 40  # not the same audio


@pytest.mark.parametrize("bitrate", [8000, 12000, 16000, 24000, 32000])
def test_opus_codes_narrow_band_audio_as_a_voip_client_does(bitrate):
    """SILK, never CELT, whose x86 search rounds by the CPU's vendor (approximate reciprocals): the same copies on
    every machine. libopus's default application coded 8 kHz speech at 24 kb/s with CELT."""
    signal = condition([{"resample": 8000}]).apply(speech_like(3.0), SR, "a")[0]
    encoded, _ = ffmpeg_encoded(signal, 8000, "opus", bitrate)
    with av.open(encoded) as container:
        configurations = {bytes(packet)[0] >> 3 for packet in container.demux(audio=0) if bytes(packet)}
    assert configurations and max(configurations) < 12, configurations  # RFC 6716: configurations 0-11 are SILK


def test_conditions_are_deterministic_per_recording():
    steps = [
        {"gain": {"uniform": [-30, 6]}},
        {"eq": {"gain_db": 6}},
        {"noise": {"kind": ["white", "pink"], "snr_db": {"uniform": [5, 25]}}},
        {"reverb": {"rt60_s": 0.3}},
        {"packet_loss": {"rate": 0.05}},
        {"resample": 8000},
        {"codec": {"name": ["ulaw", "gsm", "opus"]}},
    ]
    signal = speech_like()
    first = condition(steps).apply(signal, SR, "03a01Fa")[0]
    again = condition(steps).apply(signal, SR, "03a01Fa")[0]
    other_id = condition(steps).apply(signal, SR, "03a01Fb")[0]
    other_seed = condition(steps, seed=2).apply(signal, SR, "03a01Fa")[0]
    assert np.array_equal(first, again)
    assert not np.array_equal(first[: other_id.size], other_id[: first.size])
    assert not np.array_equal(first[: other_seed.size], other_seed[: first.size])


@pytest.mark.parametrize("kind", ["white", "pink"])
def test_noise_is_added_at_the_asked_snr(kind):
    signal = speech_like()
    noisy = condition([{"noise": {"kind": kind, "snr_db": 10}}]).apply(signal, SR, "a")[0]
    assert snr_db(signal, noisy) == pytest.approx(10, abs=0.5)


def test_gain_and_packet_loss():
    signal = speech_like()
    quiet = condition([{"gain": -30}]).apply(signal, SR, "a")[0]
    assert np.allclose(quiet, signal * 10 ** (-30 / 20), atol=1e-7)
    lossy = condition([{"packet_loss": {"rate": 0.2, "frame_ms": 20}}]).apply(signal, SR, "a")[0]
    frames = lossy[: lossy.size // 320 * 320].reshape(-1, 320)
    assert 0.1 < np.mean(np.all(frames == 0, axis=1)) < 0.3


def test_level_change_moves_the_level_in_mid_recording_and_holds_it():
    signal = speech_like()
    steps = [{"level_change": {"db": -12, "ramp_s": 0.2, "at": 0.5}}]
    changed = condition(steps).apply(signal, SR, "a")[0]
    ratio_db = 20 * np.log10(np.abs(changed[signal != 0]) / np.abs(signal[signal != 0]))
    centre = signal.size // 2
    head, tail = ratio_db[: centre - SR // 10 - 1], ratio_db[centre + SR // 10 + 1 :]
    assert np.allclose(head, 0.0, atol=1e-4)  # steady before the ramp
    assert np.allclose(tail, -12.0, atol=1e-3)  # and 12 dB lower after it
    drawn = [{"level_change": {"db": {"uniform": [-12, 12]}, "ramp_s": {"uniform": [0.1, 1.0]}}}]
    first, again = condition(drawn).apply(signal, SR, "a")[0], condition(drawn).apply(signal, SR, "a")[0]
    other = condition(drawn).apply(signal, SR, "b")[0]
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_babble_is_mixed_from_other_speakers_only(tmp_path):
    for recording in ["03a01Fa", "09a01Wa", "10a01Wa", "11a01Wa"]:
        sf.write(tmp_path / f"{recording}.wav", speech_like(seed=int(recording[:2])), SR)
    pool = BabblePool(sorted(tmp_path.glob("*.wav")))
    chosen = []

    def spy(rng, talkers, recording_id):
        voices = pool(rng, talkers, recording_id)
        chosen.append(len(voices))
        return voices

    signal = speech_like(seed=99)
    noisy = condition([{"noise": {"kind": "babble", "snr_db": 10, "talkers": 9}}], babble=spy).apply(
        signal, SR, "09b02Ab"
    )[0]
    assert chosen == [3]  # four recordings, one of them the speaker's own
    assert snr_db(signal, noisy) == pytest.approx(10, abs=0.5)


def test_crop_keeps_a_window_of_the_asked_share():
    signal = speech_like(2.0)
    first = Condition("first", [{"crop": {"share": 0.55, "at": 0}}], 1).apply(signal, SR, "03a01Fa")[0]
    assert np.array_equal(first, signal[: round(0.55 * signal.size)])
    last = Condition("last", [{"crop": {"share": 0.25, "at": 1}}], 1).apply(signal, SR, "03a01Fa")[0]
    assert np.array_equal(last, signal[-round(0.25 * signal.size) :])
    drawn = Condition("drawn", [{"crop": {"p": 0.5}}], 1)
    lengths = {drawn.apply(signal, SR, f"03a0{i}Fa")[0].size for i in range(1, 10)}
    assert signal.size in lengths and any(0.4 * signal.size <= n <= 0.8 * signal.size for n in lengths)


def test_join_adds_another_recording_of_the_same_speaker_and_emotion(tmp_path):
    recordings = {"03a01Fa": 1, "03a02Fa": 2, "03a04Wa": 3, "08a01Fa": 4}  # one partner for 03a01Fa: 03a02Fa
    for recording, seed in recordings.items():
        sf.write(tmp_path / f"{recording}.wav", speech_like(1.0 + seed / 10, seed=seed), SR)
    pool = SameVoicePool(sorted(tmp_path.glob("*.wav")))
    signal = speech_like(1.1, seed=1)
    joined = Condition("j", [{"join": {"gap_s": 0.5, "side": "after"}}], 1, partner_source=pool)
    heard = joined.apply(signal, SR, "03a01Fa")[0]
    partner = sf.read(tmp_path / "03a02Fa.wav", dtype="float32")[0]
    assert heard.size == signal.size + SR // 2 + partner.size
    assert np.array_equal(heard[: signal.size], signal)
    np.testing.assert_allclose(heard[-partner.size :], partner, atol=1e-4)
    gap = heard[signal.size : signal.size + SR // 2]
    assert 20 * np.log10(np.sqrt(np.mean(gap**2))) == pytest.approx(-60, abs=1)
    before = Condition("b", [{"join": {"gap_s": 0.5, "side": "before"}}], 1, partner_source=pool)
    assert np.array_equal(before.apply(signal, SR, "03a01Fa")[0][-signal.size :], signal)
    # no other recording of that speaker in that emotion (08 is another speaker): left as it is
    assert np.array_equal(joined.apply(signal, SR, "03a04Wa")[0], signal)
    assert np.array_equal(joined.apply(signal, SR, "08a01Fa")[0], signal)
    with pytest.raises(ParamsError, match="join step needs"):
        Condition("j", [{"join": {}}], 1).apply(signal, SR, "03a01Fa")


def test_speed_plays_the_recording_faster_or_slower():
    signal = speech_like(2.0)
    slower = Condition("slow", [{"speed": {"factor": 0.8}}], 1).apply(signal, SR, "03a01Fa")[0]
    faster = Condition("fast", [{"speed": {"factor": 1.25}}], 1).apply(signal, SR, "03a01Fa")[0]
    assert slower.size == round(signal.size / 0.8) and faster.size == round(signal.size / 1.25)

    def peak_hz(x: np.ndarray) -> float:  # the 140-170 Hz fundamental of speech_like, scaled with the speed
        spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
        return float(np.fft.rfftfreq(x.size, 1 / SR)[np.argmax(spectrum[: x.size * 400 // SR])])

    assert peak_hz(faster) / peak_hz(signal) == pytest.approx(1.25, rel=0.1)
    assert peak_hz(slower) / peak_hz(signal) == pytest.approx(0.8, rel=0.1)
    drawn = Condition("drawn", [{"speed": {"p": 0.5, "factor": {"uniform": [0.9, 1.1]}}}], 1)
    lengths = {drawn.apply(signal, SR, f"03a0{i}Fa")[0].size for i in range(1, 10)}
    assert signal.size in lengths and all(signal.size / 1.1 - 1 <= n <= signal.size / 0.9 + 1 for n in lengths)
    assert len(lengths) > 2


def test_babble_without_recordings_is_a_params_error():
    with pytest.raises(ParamsError, match="babble"):
        condition([{"noise": {"kind": "babble", "snr_db": 10}}]).apply(speech_like(), SR, "a")


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([{"echo": 1}], "unknown channel step"),
        ([{"codec": "g729"}], "unknown codec"),
        ([{"noise": {"kind": "violet"}}], "unknown noise kind"),
        ([{"join": {"side": ["after", "middle"]}}], "join.side is before or after"),
        ([{"speed": {"factor": {"uniform": [0.0, 1.1]}}}], "speed.factor lies within"),
        ([{"speed": {"factor": [1.0, 3]}}], "speed.factor lies within"),
        ([{"speed": {"factor": "fast"}}], "speed.factor is a number"),
        ([{"resample": 8000, "codec": "ulaw"}], "one-key mapping"),
        ({"resample": 8000}, "list of steps"),
    ],
)
def test_bad_steps_are_params_errors(steps, message):
    with pytest.raises(ParamsError, match=message):
        condition(steps)


def test_condition_names_and_lists_are_checked():
    params = {"seed": 1, "train": ["a"], "eval": ["b", "a"], "conditions": {"a": [{"gain": -6}], "b": [{"gain": 6}]}}
    assert condition_lists(params) == ((CLEAN, "a"), (CLEAN, "a", "b"))
    with pytest.raises(ParamsError, match="not defined"):
        condition_lists({**params, "eval": ["c"]})
    with pytest.raises(ParamsError, match="lower-case"):
        conditions_from_params({"conditions": {"clean": []}}, ["clean"])


def test_level_front_end_makes_features_independent_of_the_recording_level():
    config = FeatureConfig(level_dbfs=-20, whisper_blocks=None)
    signal = speech_like()
    loud, quiet = extract(signal, SR, config), extract(signal * 10 ** (-30 / 20), SR, config)
    assert np.allclose(loud, quiet, rtol=1e-3, atol=1e-3)
    raw = FeatureConfig(whisper_blocks=None, level_dbfs=None)
    assert not np.allclose(extract(signal, SR, raw), extract(signal * 10 ** (-30 / 20), SR, raw), atol=1e-3)


def test_dc_offset_is_removed_before_any_feature():
    config = FeatureConfig(whisper_blocks=None)
    signal = speech_like()
    shifted = signal * 0.5 + np.float32(0.2)
    assert np.allclose(extract(signal, SR, config), extract(shifted, SR, config), rtol=1e-3, atol=1e-3)
    kept = FeatureConfig(whisper_blocks=None, remove_dc=False)
    assert not np.allclose(extract(signal, SR, kept), extract(shifted, SR, kept), atol=1e-3)
