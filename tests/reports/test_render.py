"""report.md and report.html: the same sections from one source, figures embedded, HTML escaped, task-neutral
words, plain Optuna studies, and no password in any file (on a real PostgreSQL)."""

from __future__ import annotations

import base64
import re
import uuid
from pathlib import Path

import optuna
import pytest
from curve_fixtures import GOOD, OVERFIT
from optuna.trial import TrialState
from study_builders import current_study, known_study, known_trial, regression_study
from support import POSTGRES_URL

from automl.analysis import diagnostics as dg
from automl.errors import StorageError
from automl.reports import PLOT_FILES, PLOT_TITLES, load_study, report_data, write_report
from automl.reports.render import render_html, render_markdown, sections
from automl.study.record import StudyKey


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'studies.db'}"


def test_known_study_files(tmp_path: Path) -> None:
    files = write_report(current_study(), tmp_path / "out", top_k=3, storage="sqlite:///x.db")
    drawn = {k: v for k, v in PLOT_FILES.items() if k != "pareto"}  # score against cost: trade-offs only
    assert sorted(p.name for p in files.images.values()) == sorted(drawn.values())
    html = files.html.read_text()
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(embedded) == len(drawn)
    assert all(base64.b64decode(e).startswith(b"\x89PNG") for e in embedded)
    assert "<link" not in html
    assert "<script" not in html  # nothing loaded from elsewhere
    assert "95% CI [0.8400, 0.9500]" in html
    assert "+0.0300" in html  # the recorded interval and the bias
    markdown = files.markdown.read_text()
    for name, (value, _) in dg.THRESHOLDS.items():
        assert f"| {name} | {value:g} |" in markdown
    assert "![Learning curves of the top configurations](learning_curves.png)" in markdown
    for text in (markdown, html):
        assert "1 pruned trial is counted apart" in text
        assert "Diagnoses of the 4 trials that were not pruned: 1 overfitting, 1 underfitting, 1 good fit" in text
    assert "<td>pruned at epoch 2</td>" in html  # the all-trials table, HTML only
    assert "pruned at epoch 2" not in markdown  # Markdown points at trials.csv instead
    assert "All 5 trials with every number: trials.csv." in markdown


def test_both_formats_walk_the_same_sections_in_the_same_order(tmp_path: Path) -> None:
    data = report_data(current_study(), top_k=3)
    images = {"learning_curves": b"\x89PNG fake"}
    notes = {"importances": "why not"}
    markdown, html = render_markdown(data, images, notes), render_html(data, images, notes)
    titles = [s.title for s in sections(data, images, notes)]
    assert re.findall(r"^## (.+)$", markdown, flags=re.M) == titles
    assert re.findall(r"<h2 id=\"[a-z_]+\">(.+?)</h2>", html) == titles
    assert "Not drawn: why not." in markdown
    assert "Not drawn: why not." in html
    assert f"{PLOT_TITLES['optimization_history']}](" not in markdown  # neither drawn nor explained: left out


def test_html_is_escaped_and_markdown_tables_stay_tables(tmp_path: Path) -> None:
    study = optuna.create_study(study_name="<b>bold</b>", direction="maximize")
    study.set_user_attr(StudyKey.SETTINGS, {"metric": "val_accuracy"})
    study.add_trial(known_trial(GOOD, epochs_trained=4))
    study.add_trial(known_trial(OVERFIT, state=TrialState.FAIL, fail_reason="<script>alert(1)</script> | oops"))
    files = write_report(study, tmp_path / "esc")
    html = files.html.read_text()
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; | oops" in html
    assert "<b>bold</b>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    markdown = files.markdown.read_text()
    assert "# Search report: <b>bold</b>" in markdown  # Markdown is text, not markup to escape


def test_a_regression_report_never_says_accuracy(tmp_path: Path) -> None:
    files = write_report(regression_study(), tmp_path / "reg")
    for path in (files.markdown, files.html, files.csv):
        assert "accuracy" not in path.read_text().lower(), path.name
    markdown = files.markdown.read_text()
    assert "Test rmse of the winner" in markdown
    assert "| validation val_rmse | test rmse |" in markdown
    assert "no confidence interval" in markdown
    assert "Linear baseline on the same split: test rmse 1.4000." in markdown


def test_plain_optuna_study_without_curves_or_config(sqlite_url: str, tmp_path: Path) -> None:
    study = optuna.create_study(study_name="plain", storage=sqlite_url, sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2 + t.suggest_int("n", 0, 4), n_trials=8)
    files = write_report(load_study("plain", sqlite_url), tmp_path / "plain", storage=sqlite_url)
    data = files.data
    assert {r.diagnosis.label for r in data.rows} == {dg.NO_CURVES}
    assert data.summary.recommendations[0].startswith("No per-epoch curves were recorded")
    assert data.top[0].value == pytest.approx(study.best_value)
    assert data.direction == "minimize"
    assert set(files.images) == {"optimization_history", "importances"}
    html = files.html.read_text()
    assert "Not drawn: no per-epoch curves recorded for the top trials" in html
    assert "records no dataset" in html
    assert len(files.csv.read_text().splitlines()) == 1 + 8


def test_fewer_than_two_completed_trials_has_no_importances(tmp_path: Path) -> None:
    study = optuna.create_study(study_name="one", direction="maximize")
    study.add_trial(known_trial(GOOD))
    study.add_trial(known_trial(OVERFIT, state=TrialState.PRUNED))
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "importances.png").write_bytes(b"stale")  # from an earlier report
    files = write_report(study, tmp_path / "one")
    assert "importances" not in files.images
    assert not (tmp_path / "one" / "importances.png").exists()
    assert "at least 2 completed trials" in files.markdown.read_text()


def test_report_never_shows_the_storage_password(tmp_path: Path) -> None:
    # Trust authentication accepts any password, so a real server sees a URL that carries one.
    url = POSTGRES_URL.replace("postgres@", "postgres:s3cret-pw@", 1)
    assert "s3cret-pw" in url
    name = f"redact-{uuid.uuid4().hex[:8]}"
    known_study(url, name)
    try:
        files = write_report(load_study(name, url), tmp_path / "pg", storage=url)
        assert "postgres:***@" in files.html.read_text()
        for path in files.directory.iterdir():
            assert b"s3cret-pw" not in path.read_bytes(), path.name
    finally:
        optuna.delete_study(study_name=name, storage=url)


def test_loading_errors_are_one_line(sqlite_url: str, tmp_path: Path) -> None:
    known_study(sqlite_url)
    with pytest.raises(StorageError, match=r"study 'nope': not found in sqlite:///.*; known studies: known$"):
        load_study("nope", sqlite_url)
    missing = tmp_path / "missing.db"
    with pytest.raises(StorageError, match="no such SQLite file"):
        load_study("known", f"sqlite:///{missing}")
    assert not missing.exists()
