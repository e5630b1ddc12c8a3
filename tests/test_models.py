import json
import pickle

import numpy as np
import pytest

from ser.errors import DataMissing
from ser.models.artifact import METADATA_FILE, MODEL_FILE, ArtifactError, ModelArtifact, read_version
from ser.models.cv import CLEAN, ConditionedData, best_candidate, loso_scores
from ser.models.families import SpecError, build_estimator, resolve_spec
from ser.models.training import choose_spec, train
from tests.synthetic import light_config

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = np.tile(np.arange(7), 12)
    speakers = np.repeat(["09", "10", "11", "12"], 21)
    x = (rng.standard_normal((len(y), 10)) + 4.0 * np.eye(10)[y]).astype(np.float32)
    return x, y, speakers


@pytest.mark.parametrize(
    "spec",
    [
        {"family": "logreg"},
        {"family": "svm"},
        {"family": "rf", "n_estimators": 10},
        {"family": "xgb", "n_estimators": 10},
        {"family": "mlp", "hidden": 16, "epochs": 150},
        {"family": "mlp", "hidden": 16, "epochs": 150, "batch_norm": True, "dropout": 0.3},
    ],
)
def test_every_family_learns_separable_data(spec, data):
    x, y, _ = data
    model = build_estimator(spec).fit(x, y)
    probabilities = model.predict_proba(x)
    assert probabilities.shape == (len(y), 7)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert np.mean(model.predict(x) == y) > 0.8


def test_mlp_is_deterministic_for_a_seed(data):
    x, y, _ = data
    spec = {"family": "mlp", "hidden": 16, "epochs": 3, "batch_norm": True, "dropout": 0.2, "seed": 7}
    a = build_estimator(spec).fit(x, y).predict_proba(x)
    b = build_estimator(spec).fit(x, y).predict_proba(x)
    assert np.array_equal(a, b)


def test_label_smoothing_keeps_the_mlp_from_full_confidence(data):
    x, y, _ = data
    spec = {"family": "mlp", "hidden": 16, "epochs": 400, "seed": 3}
    sharp = build_estimator(spec).fit(x, y).predict_proba(x)
    smoothed = build_estimator({**spec, "label_smoothing": 0.2}).fit(x, y).predict_proba(x)
    # the smoothed targets' top class is 0.8 + 0.2 / 7 = 0.83: the network learns to stop near there
    assert sharp.max(axis=1).mean() > 0.95
    assert 0.7 < smoothed.max(axis=1).mean() < 0.86
    assert np.mean(smoothed.argmax(axis=1) == y) > 0.8


def test_unknown_family_and_unknown_keys_are_rejected():
    with pytest.raises(SpecError, match="unknown model family"):
        resolve_spec({"family": "gpt"})
    with pytest.raises(SpecError, match="does not take"):
        resolve_spec({"family": "rf", "hidden": 10}, strict=True)
    with pytest.raises(SpecError, match="does not take"):
        resolve_spec({"family": "rf", "hiden": 10}, strict=False)
    assert resolve_spec({"family": "rf", "hidden": 10}, strict=False)["n_estimators"] == 100


def test_auto_family_trains_the_cv_winner():
    summary = {"best_candidate": "rf_50", "best_spec": {"family": "rf", "n_estimators": 50}}
    spec = choose_spec({"family": "auto", "seed": 3, "hidden": 100}, summary)
    assert spec["family"] == "rf" and spec["n_estimators"] == 50 and spec["seed"] == 3
    assert choose_spec({"family": "mlp", "hidden": 100}, summary)["hidden"] == 100


def test_loso_scores_every_candidate_and_picks_best(data):
    x, y, speakers = data
    candidates = {"weak": {"family": "rf", "n_estimators": 1, "max_depth": 1}, "strong": {"family": "logreg"}}
    results = loso_scores(candidates, ConditionedData({CLEAN: x}, y, speakers), seed=0)
    assert list(results["candidate"]) == ["weak", "strong"]
    assert best_candidate(results, "uar") == "strong"
    with pytest.raises(ValueError, match="unknown selection metric"):
        best_candidate(results, "loss")


def test_loso_rejects_bad_candidate_before_fitting(data):
    x, y, speakers = data
    with pytest.raises(ValueError, match="candidate 'bad'"):
        loso_scores({"bad": {"family": "rf", "hidden": 3}}, ConditionedData({CLEAN: x}, y, speakers), seed=0)


def test_loso_folds_hold_out_whole_speakers(data, monkeypatch):
    from ser.models import cv

    seen = []
    real_fit_and_score = cv._fit_and_score

    def spy(group, conditioned, train, test):
        seen.append((set(speakers[train]), set(speakers[test])))
        return real_fit_and_score(group, conditioned, train, test)

    monkeypatch.setattr(cv, "_fit_and_score", spy)
    x, y, speakers = data
    loso_scores({"lr": {"family": "logreg"}}, ConditionedData({CLEAN: x}, y, speakers), seed=0)
    assert len(seen) == 4
    assert all(len(test) == 1 and not train & test for train, test in seen)


NESTED_CANDIDATES = {
    **{
        family: {
            "small": {"family": family, "n_estimators": 3, "max_depth": 2},
            "other": {"family": family, "n_estimators": 3, "max_depth": 3},  # another spec: its own fit
            "large": {"family": family, "n_estimators": 12, "max_depth": 2},
        }
        for family in ("rf", "xgb")
    },
    "mlp": {
        "small": {"family": "mlp", "members": 1, "hidden": 16, "epochs": 8},
        "other": {"family": "mlp", "members": 1, "hidden": 17, "epochs": 8},
        "large": {"family": "mlp", "members": 3, "hidden": 16, "epochs": 8},
    },
}


@pytest.mark.parametrize("family", sorted(NESTED_CANDIDATES))
def test_part_counts_of_one_spec_share_a_fit_and_score_as_if_fitted_alone(data, family, monkeypatch):
    """rf/xgb candidates differing only in n_estimators (MLPs: in members) are scored on one fit's prefixes, with
    the same results as fitted alone."""
    from ser.models import cv

    x, y, speakers = data
    noisy = x + np.random.default_rng(1).normal(0, 2.0, x.shape)
    conditioned = ConditionedData({CLEAN: x, "noisy": noisy}, y, speakers, (CLEAN,), (CLEAN, "noisy"))
    candidates = NESTED_CANDIDATES[family]
    assert cv.fit_groups({n: {"seed": 0, **s} for n, s in candidates.items()}) == [["small", "large"], ["other"]]
    fits = []
    real_fit_and_score = cv._fit_and_score

    def counting(group, *args):
        fits.append(list(group))
        return real_fit_and_score(group, *args)

    monkeypatch.setattr(cv, "_fit_and_score", counting)
    together = loso_scores(candidates, conditioned, seed=0).drop(columns="fit_seconds")
    assert len(fits) == 2 * 4
    alone = [loso_scores({n: s}, conditioned, seed=0).drop(columns="fit_seconds") for n, s in candidates.items()]
    assert together.to_dict("records") == [frame.iloc[0].to_dict() for frame in alone]
    assert together.loc[0, "uar_mean"] != together.loc[2, "uar_mean"]  # the prefixes are really different models


def test_channel_copies_train_with_their_speaker_and_are_scored_per_condition(data):
    """A copy of a held-out speaker's recording is never in a training fold; each condition gets its own score."""
    x, y, speakers = data
    rng = np.random.default_rng(0)
    noisy = x + rng.normal(0, 3.0, x.shape)  # a harder condition
    conditioned = ConditionedData({CLEAN: x, "noisy": noisy}, y, speakers, (CLEAN, "noisy"), (CLEAN, "noisy"))
    rows = np.arange(len(y))
    stacked, labels = conditioned.training_rows(rows[speakers != speakers[0]])
    assert len(stacked) == 2 * np.sum(speakers != speakers[0]) and len(labels) == len(stacked)
    assert not any(np.array_equal(row, x[i]) for row in stacked for i in np.flatnonzero(speakers == speakers[0]))
    results = loso_scores({"lr": {"family": "logreg"}}, conditioned, seed=0).iloc[0]
    assert results["uar_clean"] > results["uar_noisy"]
    assert results["uar_mean"] == pytest.approx((results["uar_clean"] + results["uar_noisy"]) / 2, abs=1e-6)
    with pytest.raises(DataMissing, match="no features for conditions"):
        ConditionedData({CLEAN: x}, y, speakers, (CLEAN, "noisy"))


@pytest.fixture()
def artifact(data):
    x, y, _ = data
    return train({"family": "logreg", "seed": 0}, light_config(), x, y, {"model": {"family": "logreg"}})


def test_artifact_round_trip_keeps_predictions_and_version(artifact, data, tmp_path):
    x, _, _ = data
    artifact.save(tmp_path / "model")
    loaded = ModelArtifact.load(tmp_path / "model")
    assert loaded.version == artifact.version == read_version(tmp_path / "model")
    assert np.array_equal(loaded.predict_proba(x), artifact.predict_proba(x))
    meta = json.loads((tmp_path / "model" / METADATA_FILE).read_text())
    assert {"classes", "feature_config", "params", "train_accuracy", "train_seconds", "libraries"} <= set(meta)
    assert meta["classes"][0] == {"code": "N", "emotion": "neutral", "label": 0}


def test_artifact_carries_its_speaker_space_checked_by_its_hash(artifact, tmp_path):
    import dataclasses

    from ser.models.artifact import VOICE_SPACE_FILE, ArtifactError

    space = np.eye(256, dtype=np.float32) * 2
    with_space = dataclasses.replace(artifact, metadata=dict(artifact.metadata), voice_space=space)
    with_space.save(tmp_path / "model")
    loaded = ModelArtifact.load(tmp_path / "model")
    assert np.array_equal(loaded.voice_space, space)
    without = dataclasses.replace(artifact, metadata=dict(artifact.metadata), voice_space=None)
    without.save(tmp_path / "plain")
    assert ModelArtifact.load(tmp_path / "plain").voice_space is None
    assert loaded.version != ModelArtifact.load(tmp_path / "plain").version  # the space is part of the model
    np.save(tmp_path / "model" / VOICE_SPACE_FILE, space * 3)
    with pytest.raises(ArtifactError, match="does not match its metadata checksum"):
        ModelArtifact.load(tmp_path / "model")


def test_same_model_gets_same_version(data, tmp_path):
    x, y, _ = data
    spec = {"family": "mlp", "hidden": 8, "epochs": 2, "seed": 1}
    a = train(spec, light_config(), x, y, {})
    b = train(spec, light_config(), x, y, {})
    a.save(tmp_path / "a")
    b.save(tmp_path / "b")
    assert a.version == b.version


def test_tampered_or_partial_artifact_is_refused(artifact, tmp_path):
    target = tmp_path / "model"
    artifact.save(target)
    with open(target / MODEL_FILE, "ab") as handle:
        handle.write(b"x")
    with pytest.raises(ArtifactError, match="checksum"):
        ModelArtifact.load(target)
    (target / METADATA_FILE).unlink()
    with pytest.raises(ArtifactError, match="no model artifact"):
        ModelArtifact.load(target)


def test_a_variant_artifact_is_never_loaded_as_the_utterance_model(data, tmp_path):
    x, y, _ = data
    variant = train({"family": "logreg", "seed": 0}, light_config(), x, y, {})
    variant.metadata["variant"] = "speaker_norm"
    variant.save(tmp_path / "variant")
    with pytest.raises(ArtifactError, match="holds speaker_norm, not the utterance model"):
        ModelArtifact.load(tmp_path / "variant")
    assert ModelArtifact.load(tmp_path / "variant", variant="speaker_norm").version == variant.version


def test_the_utterance_model_is_not_loaded_as_a_variant(artifact, tmp_path):
    artifact.save(tmp_path / "model")
    with pytest.raises(ArtifactError, match="holds the utterance model, not speaker_norm"):
        ModelArtifact.load(tmp_path / "model", variant="speaker_norm")


def test_failed_save_keeps_previous_artifact(artifact, tmp_path, monkeypatch):
    target = tmp_path / "model"
    artifact.save(target)
    before = read_version(target)

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("ser.models.artifact.joblib.dump", explode)
    with pytest.raises(OSError, match="disk full"):
        artifact.save(target)
    assert read_version(target) == before
    assert ModelArtifact.load(target).version == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_mlp_numpy_inference_matches_torch_forward(data):
    import torch

    from ser.models.mlp import TorchMLPClassifier, _layers_as_numpy

    x, y, _ = data
    model = TorchMLPClassifier(hidden=16, epochs=5, batch_norm=True, dropout=0.3, seed=2)
    network = model.train_network(x, y)
    with torch.no_grad():
        expected = torch.softmax(network(torch.from_numpy(x)), dim=1).numpy()
    model.classes_, model.networks_ = np.arange(7), [_layers_as_numpy(network)]
    assert np.allclose(model.predict_proba(x), expected, atol=1e-5)
    fitted = TorchMLPClassifier(hidden=16, epochs=5, batch_norm=True, dropout=0.3, seed=2).fit(x, y)
    assert np.array_equal(fitted.predict_proba(x), model.predict_proba(x))


def test_mlp_members_average_independently_seeded_networks(data):
    from ser.models.mlp import TorchMLPClassifier, _forward

    x, y, _ = data
    spec = {"hidden": 16, "epochs": 5, "seed": 3}
    ensemble = TorchMLPClassifier(**spec, members=3).fit(x, y)
    single = TorchMLPClassifier(**spec).fit(x, y)
    seeds = ensemble.member_seeds()
    assert len(set(seeds)) == 3 and seeds[0] == 3
    assert seeds == TorchMLPClassifier(**spec, members=3).member_seeds()
    # the first member is the single network of the same seed; the others differ from it
    assert np.array_equal(_forward(ensemble.networks_[0], x.astype(np.float32)), single.predict_proba(x))
    members = [_forward(layers, x.astype(np.float32)) for layers in ensemble.networks_]
    assert not np.allclose(members[0], members[1])
    assert np.allclose(ensemble.predict_proba(x), np.mean(members, axis=0))
    assert np.allclose(ensemble.predict_proba(x).sum(axis=1), 1.0)
    side_by_side = TorchMLPClassifier(**spec, members=3).fit(x, y, n_jobs=2)
    assert all(
        np.array_equal(a[key], b[key])
        for one, other in zip(side_by_side.networks_, ensemble.networks_, strict=True)
        for a, b in zip(one, other, strict=True)
        for key in a
    )
    # ... and pickle to the same bytes: the artifact's hash (model_version) does not depend on the number of workers
    assert pickle.dumps(side_by_side.networks_) == pickle.dumps(ensemble.networks_)
    with pytest.raises(ValueError, match="members must be at least 1"):
        TorchMLPClassifier(**spec, members=0).fit(x, y)


def test_an_mlp_artifact_from_before_seed_ensembles_still_predicts(data):
    """A pickled single-network MLP of the old layout (``layers_``, no ``members``) loads as a one-member ensemble."""
    import pickle

    from ser.models.mlp import TorchMLPClassifier

    x, y, _ = data
    model = TorchMLPClassifier(hidden=8, epochs=2, seed=1).fit(x, y)
    expected = model.predict_proba(x)
    old = pickle.loads(pickle.dumps(model))
    state = dict(old.__dict__)
    state["layers_"] = state.pop("networks_")[0]
    del state["members"]
    old.__dict__.clear()
    old.__setstate__(state)
    assert old.members == 1 and np.array_equal(old.predict_proba(x), expected)
