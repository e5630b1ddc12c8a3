"""Shared fixtures (synthetic EmoDB archives) and the test tiers: every test is `unit` or `system`."""

from pathlib import Path

import pytest

from tests.project_copy import SERVING_PLUMBING, copy_project, edit_params, run, venv_env
from tests.synthetic import make_archive


@pytest.fixture(scope="session")
def synthetic_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_archive(tmp_path_factory.mktemp("archive") / "download.zip")


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


TIERS = ("unit", "system")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check the tiers (a test without exactly one would silently fall out of `pytest -m unit` and of `-m system`);
    run the real-archive pipeline first: the longest test, whose failure should show early."""
    untiered = [item.nodeid for item in items if sum(item.get_closest_marker(tier) is not None for tier in TIERS) != 1]
    if untiered:
        raise pytest.UsageError(f"tests need exactly one of the markers {TIERS}: {untiered[:5]}")
    items.sort(key=lambda item: item.get_closest_marker("real_data") is None)  # stable: the rest keep their order
