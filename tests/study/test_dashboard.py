"""`automl dashboard` end to end: a real search through the console script, the real dashboard server on the
same storage, and a real headless Chromium reading the rendered page, for a network study and for table studies
(classification and regression) of the scikit-learn families. Also: the dashboard stays up while a search writes
to its storage, Ctrl-C stops it cleanly, and bad input is one line with exit 2."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from support import SLOW_SYNTHETIC, TINY_LIMIT, TINY_TABULAR, TINY_TABULAR_REGRESSION

from automl.cli import main
from automl.study.storage import open_storage

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dashboard:
    """`automl dashboard` as a subprocess, with its stdout read on a thread so a test can wait for lines."""

    def __init__(self, exe: str, cwd: Path, *args: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [exe, "dashboard", "--port", str(self.port), *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stdout: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.stdout.append(line)
            self.lines.put(line)

    def wait_for_url(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    err = self.proc.stderr.read() if self.proc.stderr else ""
                    raise AssertionError(f"dashboard exited {self.proc.returncode}: {err}") from None
                continue
            match = re.search(r"http://\S+", line)
            if match:
                return match.group(0)
        raise AssertionError(f"dashboard printed no URL in {timeout} s; stdout so far: {self.stdout}")

    def get_json(self, path: str) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as response:
            assert response.status == 200
            return json.load(response)

    def interrupt(self, timeout: float = 15) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def page_text(driver: webdriver.Chrome) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def wait_for_text(driver: webdriver.Chrome, *needles: str, timeout: float = 30) -> str:
    """The rendered text once every needle shows; the app is a React SPA that fills the page after loading."""
    try:
        WebDriverWait(driver, timeout, poll_frequency=0.25).until(lambda d: all(n in page_text(d) for n in needles))
    except Exception:
        raise AssertionError(f"page never showed {needles}; it shows:\n{page_text(driver)[:3000]}") from None
    return page_text(driver)


def search_cmd(
    exe: str, tmp_path: Path, study: str, trials: int, *storage: str, space: Path = SLOW_SYNTHETIC
) -> list[str]:
    return [
        exe, "search", "mnist", "--space", str(space), "--limit", str(TINY_LIMIT), "--trials", str(trials),
        "--study", study, "--reports", str(tmp_path / "reports"), "--no-live", *storage,
    ]  # fmt: skip


def test_search_then_dashboard_shows_study_and_trials_in_chromium(
    automl_exe: str, tmp_path: Path, browser: webdriver.Chrome
) -> None:
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    done = subprocess.run(
        search_cmd(automl_exe, tmp_path, "dash-e2e", 2, "--storage", storage),
        cwd=tmp_path, capture_output=True, text=True, timeout=150,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "automl dashboard" in done.stdout  # the search tells the user how to look

    dash = Dashboard(automl_exe, tmp_path, "--storage", storage)
    try:
        url = dash.wait_for_url()
        assert url == f"http://127.0.0.1:{dash.port}/dashboard/"
        assert "(1 study)" in dash.stdout[0]

        browser.get(url)
        wait_for_text(browser, "dash-e2e", "MAXIMIZE")
        browser.find_element(By.PARTIAL_LINK_TEXT, "dash-e2e").click()
        # The study page: its name, the best trial, the per-epoch curves as intermediate values.
        text = wait_for_text(browser, "dash-e2e", "Best Trial", "Intermediate values")
        assert "trial #0" in text, text[:3000]
        assert "trial #1" in text, text[:3000]

        study_id = re.search(r"/studies/(\d+)", browser.current_url).group(1)
        browser.get(f"{url}studies/{study_id}/trials")
        text = wait_for_text(browser, "2 Trials", "Trial 0", "Trial 1", "automl · trial 0")
        # The first trial's page shows automl's note (diagnosis, best epoch, gap) and its curves' facts.
        assert re.search(r"Diagnosis: (underfitting|overfitting|good fit|unstable/diverged)", text), text[:3000]
        assert re.search(r"Best epoch: \d of 3 trained", text), text[:3000]
        assert "Train − validation accuracy gap" in text
        assert "best_epoch" in text
        assert "curves" in text  # user attributes
        browser.save_screenshot(str(tmp_path / "dashboard.png"))
    finally:
        code = dash.interrupt() if dash.proc.poll() is None else dash.proc.returncode
        dash.kill()
    assert code in (0, 130)
    assert "Dashboard stopped." in "".join(dash.stdout)
    assert "Traceback" not in dash.proc.stderr.read()


def test_table_studies_show_their_trials_and_notes_in_chromium(
    automl_exe: str, tmp_path: Path, browser: webdriver.Chrome
) -> None:
    storage = f"sqlite:///{tmp_path / 'tables.db'}"
    cases = (  # study, table, space, direction, the gap the notes speak of
        ("dash-wine", "wine", TINY_TABULAR, "MAXIMIZE", "accuracy"),
        ("dash-diabetes", "diabetes", TINY_TABULAR_REGRESSION, "MINIMIZE", "rmse"),
    )
    for study, table, space, _, _ in cases:
        done = subprocess.run(
            [automl_exe, "search", table, "--space", str(space), "--limit", "100", "--study", study, "--storage",
             storage, "--reports", str(tmp_path / "reports"), "--no-live"],
            cwd=tmp_path, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]

    dash = Dashboard(automl_exe, tmp_path, "--storage", storage)
    try:
        url = dash.wait_for_url()
        assert "(2 studies)" in dash.stdout[0]
        for study, _, _, direction, gap in cases:
            browser.get(url)
            wait_for_text(browser, study, direction)
            browser.find_element(By.PARTIAL_LINK_TEXT, study).click()
            wait_for_text(browser, study, "Best Trial", "Intermediate values")
            study_id = re.search(r"/studies/(\d+)", browser.current_url).group(1)
            browser.get(f"{url}studies/{study_id}/trials")
            # Trial 0 (gradient boosting, ten reported steps) with automl's note: diagnosis, steps, the gap.
            text = wait_for_text(browser, "5 Trials", "Trial 4", "automl · trial 0")
            assert re.search(r"Diagnosis: (underfitting|overfitting|good fit|unstable/diverged)", text), text[:3000]
            assert re.search(r"Best epoch: \d+ of \d+ trained", text), text[:3000]
            assert f"Train − validation {gap} gap" in text, text[:3000]
            assert "sklearn_hgb" in text
            browser.find_element(By.XPATH, "//*[normalize-space(text())='Trial 2']").click()
            text = wait_for_text(browser, "automl · trial 2")
            assert "sklearn_svm" in text  # the one-step families get their note too
    finally:
        code = dash.interrupt() if dash.proc.poll() is None else dash.proc.returncode
        dash.kill()
    assert code in (0, 130)
    assert "Traceback" not in dash.proc.stderr.read()


def test_a_multi_objective_study_shows_its_pareto_front_in_chromium(
    automl_exe: str, tmp_path: Path, browser: webdriver.Chrome
) -> None:
    space = tmp_path / "mo.yaml"
    space.write_text(
        "model: synthetic\n"
        "search: {objectives: [val_accuracy maximize, params minimize], constraints: ['params <= 40']}\n"
        "params: {n_layers: {type: fixed, value: 1}, units_1: {type: int, low: 4, high: 64, log: true},\n"
        "         optimizer: {type: fixed, value: adam}, epochs: {type: fixed, value: 2},\n"
        "         learning_rate: {type: float, low: 0.001, high: 0.1, log: true}}\n"
    )
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    command = search_cmd(automl_exe, tmp_path, "mo-dash", 12, "--storage", storage, space=space)
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stderr[-2000:]
    dash = Dashboard(automl_exe, tmp_path, "--storage", storage)
    try:
        url = dash.wait_for_url()
        browser.get(url)
        wait_for_text(browser, "mo-dash", "MAXIMIZE", "MINIMIZE")
        browser.find_element(By.PARTIAL_LINK_TEXT, "mo-dash").click()
        # optuna-dashboard's own Pareto front for a multi-objective study, with automl's metric names
        text = wait_for_text(browser, "Pareto Front", "val_accuracy", "params")
        assert "mo-dash" in text
    finally:
        if dash.proc.poll() is None:
            dash.interrupt()
        dash.kill()
    assert "Traceback" not in dash.proc.stderr.read()


def test_dashboard_stays_up_while_a_search_records_trials(
    automl_exe: str, tmp_path: Path, browser: webdriver.Chrome
) -> None:
    # Both on the embedded default storage ($AUTOML_HOME/studies.db), started before any study exists.
    dash = Dashboard(automl_exe, tmp_path)
    search = None
    try:
        url = dash.wait_for_url()
        assert "no studies yet" in dash.stdout[0]
        search = subprocess.Popen(
            search_cmd(automl_exe, tmp_path, "live", 4), cwd=tmp_path, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        seen: list[int] = []
        note_saved = False
        deadline = time.monotonic() + 150
        while search.poll() is None and time.monotonic() < deadline:
            # Every poll must succeed while trials are being written.
            studies = dash.get_json("/api/studies")["study_summaries"]
            if studies:
                detail = dash.get_json(f"/api/studies/{studies[0]['study_id']}")
                finished = [t for t in detail["trials"] if t["state"] in ("Complete", "Pruned", "Fail")]
                seen.append(len(finished))
                if not note_saved and finished:
                    # A person typing a study note in the dashboard writes to the storage mid-search.
                    body = json.dumps({"version": detail["note"]["version"] + 1, "body": "watching live"}).encode()
                    request = urllib.request.Request(
                        f"http://127.0.0.1:{dash.port}/api/studies/{studies[0]['study_id']}/note",
                        data=body, method="PUT", headers={"Content-Type": "application/json"},
                    )  # fmt: skip
                    with urllib.request.urlopen(request, timeout=10) as response:
                        assert response.status in (200, 204)
                    note_saved = True
            time.sleep(0.3)
        out, err = search.communicate(timeout=60)
        assert search.returncode == 0, err[-2000:]
        assert dash.proc.poll() is None, "the dashboard died during the search"

        # The dashboard followed the search as it went: the count rose, never fell, and was seen part way.
        # (optuna-dashboard re-reads a study's trials at most every 2 s, so not every step shows.)
        assert seen == sorted(seen), seen
        assert any(0 < n < 4 for n in seen), f"no intermediate progress observed: {seen}"
        assert note_saved

        study = optuna.load_study(study_name="live", storage=open_storage(heartbeat=False))
        states = [t.state for t in study.get_trials(deepcopy=False)]
        assert sum(s in (TrialState.COMPLETE, TrialState.PRUNED) for s in states) == 4, states
        assert TrialState.FAIL not in states

        browser.get(url)
        wait_for_text(browser, "live")
        browser.find_element(By.PARTIAL_LINK_TEXT, "live").click()
        wait_for_text(browser, "Best Trial")
        study_id = re.search(r"/studies/(\d+)", browser.current_url).group(1)
        browser.get(f"{url}studies/{study_id}/trials")
        wait_for_text(browser, "4 Trials", "Trial 3")
        browser.find_element(By.XPATH, "//*[normalize-space(text())='Trial 3']").click()
        wait_for_text(browser, "automl · trial 3")
        browser.get(f"{url}studies/{study_id}/note")
        wait_for_text(browser, "watching live")
    finally:
        if search is not None and search.poll() is None:
            search.kill()
            search.wait()
        code = dash.interrupt() if dash.proc.poll() is None else dash.proc.returncode
        dash.kill()
    assert code in (0, 130)


def test_bad_storage_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for storage in ("postgresql://nobody@127.0.0.1:1/nowhere", "not a url"):
        code = main(["dashboard", "--storage", storage, "--port", "0"])
        err = capsys.readouterr().err
        assert code == 2, err
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("automl: error: storage"), err


def test_port_in_use_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["dashboard", "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 2
    expected = f"--port {port}: already in use on 127.0.0.1; pass another port, e.g. --port {port + 1}"
    assert err.strip() == f"automl: error: {expected}"


def test_console_script_bad_storage_exits_2_without_traceback(automl_exe: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [automl_exe, "dashboard", "--storage", "postgresql://nobody@127.0.0.1:1/nowhere"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, env={**os.environ},
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("automl: error: storage"), done.stderr
