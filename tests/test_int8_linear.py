import importlib.util
from pathlib import Path

import numpy as np
import pytest

from ser.features import int8_linear, whisper_encoder
from ser.features.extractor import FeatureConfig, extract
from ser.features.int8_linear import Int8Linear, integer_product
from tests.synthetic import SR, light_config, synthetic_signal

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_graph_is_what_its_script_writes():
    spec = importlib.util.spec_from_file_location("graph_script", ROOT / "scripts" / "matmul_integer_graph.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert int8_linear.GRAPH_FILE.read_bytes() == script.graph_bytes()


@pytest.mark.parametrize("extreme", [False, True])
def test_integer_products_are_exact(extreme):
    """Every sum exact, also where a 16-bit pair sum would saturate with full 8-bit weights (255 x 127 x 2)."""
    rng = np.random.default_rng(3)
    if extreme:
        activations = np.full((7, 1536), 255, dtype=np.uint8)
        weights = np.where(rng.random((1536, 33)) < 0.5, -63, 63).astype(np.int8)
        weights[:, 0] = 63
    else:
        activations = rng.integers(0, 256, (150, 384), dtype=np.uint8)
        weights = rng.integers(-63, 64, (384, 1152), dtype=np.int8)
    expected = (activations.astype(np.int64) - 128) @ weights.astype(np.int64)
    assert np.array_equal(integer_product(activations, weights), expected)


def test_a_quantised_layer_is_close_to_the_float_layer_and_keeps_seven_bit_weights():
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((384, 256)).astype(np.float32)
    bias = rng.standard_normal(256).astype(np.float32)
    x = rng.standard_normal((40, 384)).astype(np.float32)
    x[3] = 0.0  # a silent row: the bias alone, no division by zero
    layer = Int8Linear.of(weight, bias)
    assert layer.weight.dtype == np.int8 and np.abs(layer.weight).max() == int8_linear.WEIGHT_LEVELS
    got, expected = layer(x), x @ weight + bias
    assert got.dtype == np.float32 and np.array_equal(got[3], bias)
    assert np.abs(got - expected).max() < 0.03 * np.abs(expected).max()
    assert np.corrcoef(got.ravel(), expected.ravel())[0, 1] > 0.999


def test_the_compiled_kernels_compute_what_numpy_computes_to_the_bit():
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((60, 384)) * rng.uniform(0.01, 50, (60, 1))).astype(np.float32)
    x[7] = 0.0
    levels, scales = int8_linear.quantised_rows(x)
    expected_scales = np.maximum(np.abs(x).max(axis=1) / np.float32(127), np.float32(np.finfo(np.float32).tiny))
    assert np.array_equal(scales, expected_scales)
    assert np.array_equal(levels, (np.rint(x / expected_scales[:, None]) + np.float32(128)).astype(np.uint8))
    product = rng.integers(-(2**23), 2**23, (60, 96), dtype=np.int32)
    columns, bias = rng.uniform(1e-4, 1e-2, 96).astype(np.float32), rng.standard_normal(96).astype(np.float32)
    expected = product.astype(np.float32) * (scales[:, None] * columns) + bias
    assert np.array_equal(int8_linear.rescaled(product, scales, columns, bias), expected)


def test_too_many_inputs_for_exact_float32_sums_are_refused():
    with pytest.raises(ValueError, match="would not convert to float32 exactly"):
        Int8Linear.of(np.ones((2100, 4), np.float32), np.zeros(4, np.float32))


def test_int8_whisper_features_follow_the_float_features_and_repeat_exactly():
    signal = synthetic_signal("03a01Wa", 2.0)
    exact = whisper_encoder.features(signal, SR, (2, 4))
    fast = whisper_encoder.features(signal, SR, (2, 4), int8=True)
    assert np.array_equal(fast, whisper_encoder.features(signal, SR, (2, 4), int8=True))
    assert not np.array_equal(fast, exact)
    assert np.corrcoef(fast, exact)[0, 1] > 0.99
    other_voice = whisper_encoder.features(synthetic_signal("08a01Fa", 2.0), SR, (2, 4), int8=True)
    assert np.abs(fast - exact).mean() < 0.2 * np.abs(other_voice - exact).mean()


def test_the_int8_choice_reaches_the_extractor_and_old_artifacts_stay_float():
    signal = synthetic_signal("03a01Fa", 1.0)
    quantised = extract(signal, SR, light_config(whisper_blocks=2))
    exact = extract(signal, SR, light_config(whisper_blocks=2, whisper_int8=False))
    assert np.array_equal(quantised[: -2 * whisper_encoder.WIDTH], exact[: -2 * whisper_encoder.WIDTH])
    assert not np.array_equal(quantised, exact)
    stored = {k: v for k, v in FeatureConfig().to_dict().items() if k != "whisper_int8"}
    assert FeatureConfig.from_stored(stored).whisper_int8 is False
