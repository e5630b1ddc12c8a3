"""Stage entry points: an expected failure (SerError) is one `error:` line; a bug keeps its traceback."""

import pytest

from ser.errors import ParamsError
from ser.pipeline import stage

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def params(monkeypatch):
    monkeypatch.setattr(stage, "load_params", lambda: {"base": {"log_level": "WARNING"}})


def test_expected_failure_is_one_line_and_exit_status_1(capsys):
    def main(_):
        raise ParamsError("channels.conditions.x: unknown channel step 'echo'")

    with pytest.raises(SystemExit) as exited:
        stage.run(main)
    assert exited.value.code == 1
    assert capsys.readouterr().err == "error: channels.conditions.x: unknown channel step 'echo'\n"


@pytest.mark.parametrize("bug", [ValueError("a bug deep in feature code"), KeyError("column"), ZeroDivisionError()])
def test_a_bug_keeps_its_traceback(bug):
    def main(_):
        raise bug

    with pytest.raises(type(bug)):
        stage.run(main)
