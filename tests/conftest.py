"""Shared fixtures: synthetic EmoDB archives."""

from pathlib import Path

import pytest

from tests.synthetic import make_archive


@pytest.fixture(scope="session")
def synthetic_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_archive(tmp_path_factory.mktemp("archive") / "download.zip")
