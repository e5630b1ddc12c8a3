"""The five-pair benchmark's saved runs merge into one table whose pooled figures come from the confusion counts."""

from pathlib import Path

import numpy as np
import pytest

from benchmarks import speaker_pairs


def _run(pair: str, matrix: list[list[int]]) -> tuple:
    counts = np.array(matrix)
    accuracy = float(np.trace(counts) / counts.sum())
    per_pair = {pair: {"clean": {"accuracy": accuracy}}}
    confusions = {"clean": {pair: counts}}
    hits, support = np.diag(counts).astype(float), counts.sum(axis=1).astype(float)
    return per_pair, confusions, [(pair, accuracy, accuracy, int(counts.sum()))], [(hits, support)]


@pytest.mark.unit
def test_saved_runs_merge_and_pool(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    speaker_pairs._save(first, *_run("03,08", [[3, 1], [0, 4]]))
    speaker_pairs._save(second, *_run("10,14", [[1, 1], [0, 0]]))
    speaker_pairs._report_saved([first, second])
    out = capsys.readouterr().out
    clean_row = next(line for line in out.splitlines() if line.startswith("clean"))
    # pooled counts [[4, 2], [0, 4]]: accuracy 0.8, UAR (4/6 + 4/4) / 2 = 0.833; mean accuracy (0.875 + 0.5) / 2
    assert clean_row.split()[1:] == ["0.875", "0.500", "0.688", "0.800", "0.833"]
    assert "pooled over all pairs: accuracy 0.800, UAR 0.833" in out
