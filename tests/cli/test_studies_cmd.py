"""`automl studies`: the listing's numbers (pure), the table, deletion that asks first, and redacted URLs."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from types import SimpleNamespace

import optuna
import pytest
from optuna.trial import TrialState, create_trial
from support import POSTGRES_URL

from automl.cli import main
from automl.study.listing import describe_age, summarize
from automl.study.record import RECORD_VERSION, StudyKey
from automl.study.storage import default_storage_url, open_storage

NOW = datetime(2026, 1, 2, 12, 0, 0)


def fake_trial(state: str, value: float | None, minutes_ago: float) -> SimpleNamespace:
    start = NOW - timedelta(minutes=minutes_ago + 1)
    return SimpleNamespace(
        state=TrialState[state],
        value=value,
        datetime_start=start,
        datetime_complete=NOW - timedelta(minutes=minutes_ago),
    )


def test_a_row_counts_states_and_picks_the_best_by_direction() -> None:
    trials = [
        fake_trial("COMPLETE", 0.9, 30),
        fake_trial("COMPLETE", 0.95, 20),
        fake_trial("PRUNED", 0.5, 10),  # a pruned trial's value is not a result
        fake_trial("FAIL", None, 5),
    ]
    attrs = {StudyKey.SETTINGS: {"trials": 30, "metric": "val_accuracy"}}
    row = summarize("s", "maximize", trials, attrs)
    assert row.counts == {"complete": 2, "pruned": 1, "fail": 1, "running": 0, "waiting": 0}
    assert row.best_value == 0.95
    assert row.finished == 3
    assert row.total == 4
    assert row.budget == 30
    assert row.last_activity == NOW - timedelta(minutes=5)
    assert summarize("s", "minimize", trials).best_value == 0.9
    empty = summarize("e", "maximize", [])
    assert empty.best_value is None
    assert empty.last_activity is None
    assert empty.total == 0


@pytest.mark.parametrize(
    ("ago", "text"),
    [
        (timedelta(seconds=20), "just now"),
        (timedelta(minutes=5, seconds=59), "5 min ago"),
        (timedelta(hours=3), "3 h ago"),
        (timedelta(days=1, hours=2), "1 day ago"),
        (timedelta(days=9), "9 days ago"),
    ],
)
def test_ages_read_in_the_largest_whole_unit(ago: timedelta, text: str) -> None:
    assert describe_age(NOW - ago, NOW) == text
    assert describe_age(None, NOW) == "never"


def add_trials(name: str, url: str, states_values: list[tuple[TrialState, float | None]]) -> None:
    study = optuna.create_study(study_name=name, storage=open_storage(url, heartbeat=False), direction="maximize")
    study.set_user_attr(StudyKey.SETTINGS, {"trials": 10, "metric": "val_accuracy"})
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    for state, value in states_values:
        study.add_trial(create_trial(state=state, value=value, params={"x": 0.5}, distributions=dist))


def test_the_listing_shows_each_study(capsys: pytest.CaptureFixture[str]) -> None:
    url = default_storage_url()
    assert main(["studies"]) == 0
    assert "No studies in" in capsys.readouterr().out
    add_trials("alpha", url, [(TrialState.COMPLETE, 0.91), (TrialState.COMPLETE, 0.93), (TrialState.FAIL, None)])
    add_trials("beta", url, [])

    assert main(["studies"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Studies in {url}:"
    header, alpha, beta = lines[1].split(), lines[2].split(), lines[3].split()
    assert header[:8] == ["STUDY", "DONE", "COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING", "BEST"]
    assert alpha[:9] == ["alpha", "2/10", "2", "0", "1", "0", "0", "0.9300", "val_accuracy"]
    assert "just now" in lines[2]
    assert beta[:2] == ["beta", "0/10"]
    assert beta[-1] == "-"  # never active


def test_a_study_from_a_newer_automl_is_listed_with_a_note(capsys: pytest.CaptureFixture[str]) -> None:
    url = default_storage_url()
    add_trials("future", url, [(TrialState.COMPLETE, 0.5)])
    optuna.load_study(study_name="future", storage=url).set_user_attr(StudyKey.RECORD_VERSION, RECORD_VERSION + 1)
    assert main(["studies"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("future"))
    assert row.split()[:2] == ["future", "1"]
    assert row.endswith("; recorded by a newer automl")


def test_delete_asks_first(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    url = default_storage_url()
    add_trials("doomed", url, [(TrialState.COMPLETE, 0.5)])

    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert main(["studies", "delete", "doomed"]) == 1
    captured = capsys.readouterr()
    assert "Delete study 'doomed' and its 1 trials" in captured.out
    assert "Kept study 'doomed'" in captured.err
    assert "doomed" in optuna.get_all_study_names(url)

    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no one to answer: keep it
    assert main(["studies", "delete", "doomed"]) == 1
    assert "doomed" in optuna.get_all_study_names(url)

    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert main(["studies", "delete", "doomed"]) == 0
    assert "Deleted study 'doomed'" in capsys.readouterr().out
    assert optuna.get_all_study_names(url) == []


def test_delete_with_yes_on_postgresql_never_shows_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    name = f"studies-cmd-{datetime.now():%H%M%S%f}"
    add_trials(name, POSTGRES_URL, [(TrialState.PRUNED, 0.1)])
    secret = POSTGRES_URL.replace("postgres@", "postgres:s3cret@", 1)
    try:
        assert main(["studies", "--storage", secret]) == 0
        listing = capsys.readouterr().out
        assert name in listing
        assert "postgres:***@" in listing
        assert main(["studies", "delete", name, "--yes", "--storage", secret]) == 0
        out = capsys.readouterr().out
        assert f"Deleted study '{name}'" in out
        assert "s3cret" not in listing + out
    finally:
        if name in optuna.get_all_study_names(POSTGRES_URL):
            optuna.delete_study(study_name=name, storage=POSTGRES_URL)


def test_deleting_an_unknown_study_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["studies", "delete", "ghost", "--yes"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "study 'ghost': not found" in err[0]
