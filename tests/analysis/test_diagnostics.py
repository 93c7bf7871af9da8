"""Diagnoses of known curves (any metric, either direction), pruned and failed trials, and the study-level advice."""

from __future__ import annotations

import pytest
from curve_fixtures import GOOD, NAN, OVERFIT, UNDERFIT

from automl.analysis import diagnostics as dg
from automl.analysis import recommendation
from automl.study.record import TrialRecord


def test_overfitting_curve_gets_its_turning_point_and_gaps() -> None:
    d = dg.diagnose_curves(OVERFIT)
    assert d.label == dg.OVERFITTING
    assert d.epochs == 6
    assert d.best_epoch == 3  # first epoch reaching val_accuracy 0.86
    assert d.gap_at_best == pytest.approx(0.92 - 0.86)
    assert d.gap_at_end == pytest.approx(0.99 - 0.84)
    assert d.gap_limit == dg.OVERFIT_GAP
    # Smoothed over 3 epochs: [0.75, 0.667, 0.55, 0.567, 0.667, 0.725]; the minimum is 0.55 at epoch 3.
    assert d.val_loss_min_epoch == 3
    assert d.val_loss_rise == pytest.approx(0.725 / 0.55 - 1)
    assert d.val_loss_slope_after_min == pytest.approx((0.725 - 0.55) / 3)
    assert "epoch 3" in d.reason
    assert "+32%" in d.reason
    assert not d.still_improving


def test_underfitting_curve_is_not_called_overfitting() -> None:
    d = dg.diagnose_curves(UNDERFIT)
    assert d.label == dg.UNDERFITTING
    assert d.train_value_at_end == pytest.approx(0.4)
    assert d.fit_metric == "val_accuracy"
    assert d.best_epoch == 4
    assert d.still_improving
    assert "0.400" in d.reason


def test_good_fit_states_the_numbers_it_checked() -> None:
    d = dg.diagnose_curves(GOOD)
    assert d.label == dg.GOOD_FIT
    assert d.best_epoch == 3
    assert d.gap_at_end == pytest.approx(0.94 - 0.925)
    # Raw validation loss ticks up 4% at the end; smoothed it is still falling: noise, not a turn.
    assert d.val_loss_min_epoch == 4
    assert d.val_loss_rise == 0.0
    assert "+0%" in d.reason


def test_low_training_accuracy_under_augmentation_is_not_underfitting() -> None:
    # Keras measures training accuracy on augmented, dropped-out inputs; validation shows the model learned.
    augmented = {
        "loss": [1.2, 0.8, 0.6, 0.5],
        "accuracy": [0.6, 0.75, 0.82, 0.85],
        "val_loss": [0.5, 0.3, 0.2, 0.17],
        "val_accuracy": [0.85, 0.91, 0.94, 0.95],
    }
    d = dg.diagnose_curves(augmented)
    assert d.label == dg.GOOD_FIT
    assert d.gap_at_end == pytest.approx(-0.1)
    assert "validation reached 0.950" in d.reason


def test_nan_curve_is_diverged_from_the_first_bad_epoch() -> None:
    d = dg.diagnose_curves(NAN)
    assert d.label == dg.UNSTABLE
    assert "epoch 3" in d.reason
    assert "loss" in d.reason


def test_training_loss_jump_is_unstable_but_noise_near_zero_is_not() -> None:
    jumpy = {"loss": [1.0, 0.5, 0.9, 0.4], "accuracy": [0.8, 0.9, 0.7, 0.92], "val_loss": [0.5, 0.4, 0.8, 0.4]}
    d = dg.diagnose_curves(jumpy)
    assert d.label == dg.UNSTABLE
    assert "+80%" in d.reason
    assert "epoch 3" in d.reason
    # 0.010 -> 0.013 is +30% relative, but tiny against the first loss (1.0): not instability.
    calm = {
        "loss": [1.0, 0.1, 0.01, 0.013],
        "accuracy": [0.9, 0.97, 0.99, 0.99],
        "val_loss": [0.3, 0.2, 0.18, 0.185],
        "val_accuracy": [0.9, 0.95, 0.96, 0.96],
    }
    assert dg.diagnose_curves(calm).label == dg.GOOD_FIT


def test_large_gap_without_a_turning_loss_is_overfitting() -> None:
    curves = {
        "loss": [0.5, 0.2, 0.1],
        "accuracy": [0.9, 0.97, 0.99],
        "val_loss": [0.5, 0.45, 0.44],
        "val_accuracy": [0.85, 0.88, 0.9],
    }
    d = dg.diagnose_curves(curves)
    assert d.label == dg.OVERFITTING
    assert d.gap_at_end == pytest.approx(0.09)
    assert "0.090" in d.reason


@pytest.mark.parametrize("curves", [None, {}, {"loss": []}])
def test_no_curves(curves: object) -> None:
    d = dg.diagnose_curves(curves)  # type: ignore[arg-type]
    assert d.label == dg.NO_CURVES
    assert d.best_epoch is None
    assert d.gap_at_end is None


def test_one_noisy_epoch_is_not_a_turn() -> None:
    # Raw: minimum 0.20 at epoch 4 (a blip), ending 15% above it. Smoothed, the loss never turns.
    noisy = {
        "loss": [0.9, 0.5, 0.35, 0.3, 0.27, 0.25],
        "accuracy": [0.8, 0.9, 0.93, 0.94, 0.945, 0.95],
        "val_loss": [0.6, 0.35, 0.26, 0.20, 0.24, 0.23],
        "val_accuracy": [0.82, 0.9, 0.92, 0.93, 0.925, 0.93],
    }
    d = dg.diagnose_curves(noisy)
    assert d.label == dg.GOOD_FIT
    assert d.val_loss_rise < dg.OVERFIT_VAL_LOSS_RISE
    assert dg.smoothed([1.0, 2.0, 3.0, 10.0]) == pytest.approx([1.5, 2.0, 5.0, 6.5])


def test_loss_metric_picks_the_lowest_validation_loss_epoch() -> None:
    assert dg.diagnose_curves(OVERFIT, metric="val_loss", maximize=False).best_epoch == 3


def trial(state: str, curves: dict | None = None, **fields: object) -> TrialRecord:
    return TrialRecord(number=0, state=state, value=None, params={}, config={}, curves=curves or {}, **fields)


def test_a_failure_reason_decides_divergence_by_whole_words() -> None:
    # Keras stops before recording the NaN epoch, so the failure reason is what tells divergence.
    for reason in (
        "loss became nan at epoch 5; training diverged",
        "val_loss became inf at epoch 2; training diverged",
        "loss became -inf at epoch 2",
        "gradients were non-finite",
    ):
        assert dg.diagnose_trial(trial("FAIL", GOOD, fail_reason=reason)).label == dg.UNSTABLE, reason
    # "info", "infeasible", "nanny": the substrings 'inf' and 'nan' are no evidence of divergence.
    for reason in ("could not write info file", "infeasible configuration", "worker nanny-3 lost", "ValueError"):
        d = dg.diagnose_trial(trial("FAIL", None, fail_reason=reason))
        assert d.label == dg.FAILED
        assert d.reason == reason
    assert dg.diagnose_trial(trial("FAIL")).reason == "failed without a recorded reason"
    # Curves that already hold the NaN epoch say it themselves, whatever the reason.
    assert dg.diagnose_trial(trial("FAIL", NAN, fail_reason="see log")).label == dg.UNSTABLE
    assert dg.diagnose_trial(trial("COMPLETE")).label == dg.NO_CURVES


def test_a_pruned_trial_is_pruned_at_its_epoch_never_underfitting() -> None:
    # Its curves would read as underfitting (40% training accuracy): stopped early is no such evidence.
    assert dg.diagnose_curves(UNDERFIT).label == dg.UNDERFITTING
    d = dg.diagnose_trial(trial("PRUNED", UNDERFIT, pruned_at_epoch=4))
    assert d.label == dg.PRUNED
    assert d.title == "pruned at epoch 4"
    assert "underfit" not in d.title
    assert "stopped at epoch 4 by the pruner" in d.reason
    assert d.best_epoch == 4  # the curve's numbers stay available
    timed = dg.diagnose_trial(trial("PRUNED", UNDERFIT, pruned_at_epoch=2, prune_reason="time budget"))
    assert timed.title == "pruned at epoch 2 (time budget)"
    assert "by time budget" in timed.reason
    # No recorded epoch: the intermediate values say how far it got.
    d = dg.diagnose_trial(trial("PRUNED", intermediate={1: 0.3, 2: 0.4, 3: 0.45}))
    assert d.title == "pruned at epoch 3"


def test_a_minimised_unbounded_metric_gets_a_signed_gap_and_a_relative_threshold() -> None:
    # Regression: RMSE falls; training 0.5 against validation 1.0 at the end is a 100% gap.
    curves = {
        "loss": [4.0, 2.0, 1.0, 0.5],
        "rmse": [2.0, 1.4, 0.9, 0.5],
        "val_loss": [4.0, 2.2, 1.4, 1.1],
        "val_rmse": [2.0, 1.5, 1.1, 1.0],
    }
    d = dg.diagnose_curves(curves, metric="val_rmse", maximize=False)
    assert d.best_epoch == 4
    assert d.fit_metric == "val_rmse"
    assert d.gap_at_end == pytest.approx(0.5)  # validation minus training: positive = training looks better
    assert d.gap_limit == pytest.approx(dg.OVERFIT_GAP_RELATIVE * 1.0)
    assert d.label == dg.OVERFITTING
    assert "rmse gap 0.500" in d.reason
    # A close fit on the same scale is good, and underfitting is not judged: RMSE has no absolute bar.
    close = {**curves, "rmse": [2.0, 1.5, 1.1, 0.97]}
    good = dg.diagnose_curves(close, metric="val_rmse", maximize=False)
    assert good.label == dg.GOOD_FIT
    assert good.gap_at_end == pytest.approx(0.03)
    assert "underfitting not judged (val_rmse has no absolute bar)" in good.reason
    assert not dg.is_bounded("val_rmse")
    assert dg.is_bounded("val_accuracy")
    assert dg.is_bounded("val_auc")


def test_a_small_gap_on_a_large_scale_is_not_overfitting() -> None:
    # An absolute 0.05 would call any gap on a scale of hundreds overfitting; 3 against 300 is 1%.
    curves = {"loss": [9.0, 5.0, 4.0], "mae": [400.0, 320.0, 297.0], "val_mae": [410.0, 330.0, 300.0]}
    d = dg.diagnose_curves(curves, metric="val_mae", maximize=False)
    assert d.label == dg.GOOD_FIT
    assert d.gap_at_end == pytest.approx(3.0)


def test_summary_advises_regularisation_when_the_top_overfit() -> None:
    over = dg.diagnose_curves(OVERFIT)
    good = dg.diagnose_curves(GOOD)
    s = recommendation.summarize([over, over, good, over], [over, over, good], max_epochs=10)
    assert s.top_counts == {dg.OVERFITTING: 2, dg.GOOD_FIT: 1}
    assert s.counts == {dg.OVERFITTING: 3, dg.GOOD_FIT: 1}
    assert s.typical_turn_epoch == 3
    assert s.recommendations[0] == (
        "2 of the top 3 configurations overfit after epoch 3: raise L2 or dropout, "
        "or lower the epoch budget (about 4 instead of 10)."
    )


def test_summary_advises_the_overfitting_families_own_remedies_when_given() -> None:
    # A scikit-learn study: the families name what to change; no word of L2, dropout or epochs they do not have.
    over = dg.diagnose_curves(OVERFIT)
    good = dg.diagnose_curves(GOOD)
    remedies = ["sklearn_svm: lower C", "sklearn_linear: raise alpha"]
    s = recommendation.summarize([over, over, good], [over, over, good], max_epochs=10, overfit_remedies=remedies)
    assert s.recommendations[0] == (
        "2 of the top 3 configurations overfit: sklearn_svm: lower C; sklearn_linear: raise alpha."
    )
    assert s.to_dict()["overfit_remedies"] == remedies


def test_summary_advises_capacity_when_most_underfit_and_lr_when_unstable() -> None:
    under = dg.diagnose_curves(UNDERFIT)
    nan = dg.diagnose_curves(NAN)
    s = recommendation.summarize(
        [under, under, under, nan], [under, under], metric="val_accuracy", unstable_lr=(0.2, 0.003)
    )
    text = " ".join(s.recommendations)
    assert "3 of 4 trials that ran to the end underfit (training and validation accuracy below 0.90)" in text
    assert "widen the layers" in text
    assert "1 of 4 trials were unstable" in text
    assert "median learning rate was 0.2 against 0.003" in text
    assert "raise the epoch budget" in text  # both top trials were still improving


def test_summary_without_curves_says_so() -> None:
    none = dg.diagnose_curves(None)
    s = recommendation.summarize([none, none], [none])
    assert s.n_with_curves == 0
    assert s.counts == {dg.NO_CURVES: 2}
    assert s.recommendations[0].startswith("No per-epoch curves were recorded")


def test_pruned_trials_are_counted_apart_from_the_diagnoses() -> None:
    # Most of a default run's "underfitting" trials were pruned ones; they must not make that verdict.
    pruned = dg.diagnose_trial(trial("PRUNED", UNDERFIT, pruned_at_epoch=2))
    good = dg.diagnose_curves(GOOD)
    under = dg.diagnose_curves(UNDERFIT)
    s = recommendation.summarize([pruned, pruned, pruned, good, good, under], [good])
    assert s.n_pruned == 3
    assert s.n_diagnosed == 3
    assert s.n_with_curves == 3
    assert s.counts == {dg.GOOD_FIT: 2, dg.UNDERFITTING: 1}
    assert dg.PRUNED not in s.counts
    # 1 underfit of the 3 that ran to the end is no majority; counting the pruned as underfit would make 4 of 6.
    assert not any("underfit" in r for r in s.recommendations)
    only = recommendation.summarize([pruned, pruned], [])
    assert only.recommendations[0].startswith("All 2 trials were pruned")


def test_every_threshold_is_stated() -> None:
    names = {n for n in dir(dg) if n.isupper() and isinstance(getattr(dg, n), int | float)}
    assert names == set(dg.THRESHOLDS) | {"MAJORITY"}
