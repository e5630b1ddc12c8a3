"""Shared fixtures (synthetic EmoDB archives) and the test tiers: every test is `unit` or `system`."""

from pathlib import Path

import ser  # noqa: F401  (first: the SIMD pins, before tests.synthetic imports numpy)

# isort: split

import pytest

from ser.inference.predictor import Predictor
from serve.settings import Settings
from tests import real_archive
from tests.api_fixtures import build_served_project
from tests.project_copy import SERVING_PLUMBING, copy_project, edit_params, run, venv_env
from tests.synthetic import make_archive


@pytest.fixture(scope="session")
def synthetic_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_archive(tmp_path_factory.mktemp("archive") / "download.zip")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Settings:
    """API settings over a small project (synthetic recordings, a model trained on their features), per module."""
    return build_served_project(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))


@pytest.fixture(scope="module")
def predictor(served: Settings) -> Predictor:
    return Predictor.load(served.model_dir)


@pytest.fixture(scope="session")
def trained_serving_project(tmp_path_factory: pytest.TempPathFactory, synthetic_zip: Path) -> Path:
    """A project copy trained on the synthetic archive with the serving params, once per run.

    Tests that serve, retrain or push it take their own copy (``clone_project``): one `dvc repro` instead of one per
    module.
    """
    project = copy_project(tmp_path_factory.mktemp("serving") / "project")
    edit_params(project, **SERVING_PLUMBING)
    result = run(["dvc", "repro"], project, venv_env(SER_EMODB_SOURCE=str(synthetic_zip)))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return project


@pytest.fixture(scope="session", autouse=True)
def real_archive_pipeline(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The real-archive pipeline, started with the first test when real-archive tests are selected and the archive
    is given, so that the rest of the suite runs beside it; None otherwise. Stopped when the run ends."""
    selected = any(item.get_closest_marker("real_data") for item in request.session.items)
    if not (selected and real_archive.available()):
        yield None
        return
    pipeline = real_archive.start(tmp_path_factory.mktemp("real") / "project")
    yield pipeline
    pipeline.stop()


TIERS = ("unit", "system")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check the tiers (a test without exactly one would silently fall out of `pytest -m unit` and of `-m system`);
    run the real-archive tests last: their pipeline starts with the first test and runs beside the others."""
    untiered = [item.nodeid for item in items if sum(item.get_closest_marker(tier) is not None for tier in TIERS) != 1]
    if untiered:
        raise pytest.UsageError(f"tests need exactly one of the markers {TIERS}: {untiered[:5]}")
    items.sort(key=lambda item: item.get_closest_marker("real_data") is not None)  # stable: the rest keep their order
