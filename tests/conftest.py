"""Shared fixtures (synthetic EmoDB archives) and the test tiers: every test is `unit` or `system`."""

from pathlib import Path

import pytest

from tests.synthetic import make_archive


@pytest.fixture(scope="session")
def synthetic_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_archive(tmp_path_factory.mktemp("archive") / "download.zip")


TIERS = ("unit", "system")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test without exactly one tier would silently fall out of `pytest -m unit` and of `-m system`."""
    untiered = [item.nodeid for item in items if sum(item.get_closest_marker(tier) is not None for tier in TIERS) != 1]
    if untiered:
        raise pytest.UsageError(f"tests need exactly one of the markers {TIERS}: {untiered[:5]}")
