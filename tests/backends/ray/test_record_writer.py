"""The Ray driver's record writer: what it is given lands in the study in order, each ended trial told once and
never left RUNNING, whatever fails on the way."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from automl.backends.ray.record_writer import RecordWriter, TrialEnd
from automl.study.record import TrialKey
from automl.study.storage import open_storage


@pytest.fixture
def study(tmp_path: Path) -> optuna.Study:
    return optuna.create_study(
        study_name="writer", storage=open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat=False)
    )


def test_epochs_then_the_end_land_in_order_and_the_trial_is_told_once(study: optuna.Study) -> None:
    writer = RecordWriter(study)
    a, b = study.ask(), study.ask()
    for epoch in range(1, 6):  # two trials' epochs interleaved, as Tune delivers them
        writer.record(a, {TrialKey.WORKER: "host:1"} if epoch == 1 else None, {epoch: epoch / 10})
        writer.record(b, None, {epoch: math.nan if epoch == 3 else epoch / 20})
    writer.end(a, TrialEnd(None, 0.5, {TrialKey.CURVES: {"val_accuracy": [0.1, 0.2, 0.3, 0.4, 0.5]}}))
    writer.end(b, TrialEnd(TrialState.PRUNED, None, {TrialKey.PRUNE_REASON: "scheduler"}))
    writer.flush()

    told = writer.told()
    assert [t.number for t in told] == [0, 1]
    assert writer.told() == []  # each handed back once
    first, second = study.trials
    assert first.state == TrialState.COMPLETE and first.value == 0.5
    assert first.intermediate_values == {1: 0.1, 2: 0.2, 3: 0.3, 4: 0.4, 5: 0.5}
    assert first.user_attrs[TrialKey.WORKER] == "host:1"
    assert first.user_attrs[TrialKey.CURVES]["val_accuracy"][-1] == 0.5
    assert second.state == TrialState.PRUNED
    assert second.value == 0.25  # Optuna's tell reads the last intermediate value: written before the tell
    assert math.isnan(second.intermediate_values[3])
    assert told[1].user_attrs[TrialKey.PRUNE_REASON] == "scheduler"  # what the callbacks get is the record
    writer.close()


def test_an_end_whose_record_cannot_be_written_is_told_failed_with_the_reason(study: optuna.Study) -> None:
    writer = RecordWriter(study)
    trial = study.ask()
    writer.record(trial, None, {1: 0.5})
    writer.end(trial, TrialEnd(None, 0.5, {"history": {"loss": object()}}))  # not JSON: the write raises
    writer.close()

    (frozen,) = study.trials
    assert frozen.state == TrialState.FAIL
    assert frozen.user_attrs[TrialKey.FAIL_REASON].startswith("recording the result failed")
    assert [t.state for t in writer.told()] == [TrialState.FAIL]


def test_a_trial_finished_elsewhere_keeps_its_state(study: optuna.Study) -> None:
    writer = RecordWriter(study)
    trial = study.ask()
    study.tell(trial, state=TrialState.FAIL)  # another driver took it for lost meanwhile
    writer.record(trial, {TrialKey.WORKER: "late"}, {1: 0.5})
    writer.end(trial, TrialEnd(None, 0.5, {}))
    writer.close()

    (frozen,) = study.trials
    assert frozen.state == TrialState.FAIL
    assert TrialKey.WORKER not in frozen.user_attrs and frozen.intermediate_values == {}
    assert [t.state for t in writer.told()] == [TrialState.FAIL]


def test_writes_queued_after_close_start_the_thread_again(study: optuna.Study) -> None:
    writer = RecordWriter(study)
    writer.close()  # nothing queued: returns at once
    trial = study.ask()
    writer.end(trial, TrialEnd(TrialState.FAIL, None, {TrialKey.FAIL_REASON: "interrupted"}))
    writer.close()
    assert study.trials[0].state == TrialState.FAIL
    assert not writer.busy()
