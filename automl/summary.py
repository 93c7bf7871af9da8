"""``reports/<study>/summary.md``: the short account of one search. Data first (pure), then the renderer."""

from __future__ import annotations

from typing import Any

import optuna
from optuna.trial import TrialState

from automl.finish import FinalEvaluation


def summary_data(
    study: optuna.Study,
    final: FinalEvaluation | None,
    *,
    storage: str,
    elapsed: float,
    budget: dict[str, Any],
) -> dict[str, Any]:
    trials = study.get_trials(deepcopy=False)
    counts = {state.name.lower(): sum(t.state == state for t in trials) for state in TrialState}
    attrs = study.user_attrs
    return {
        "study": study.study_name,
        "storage": storage,
        "dataset": attrs.get("dataset"),
        "data_source": attrs.get("data_source"),
        "data_fingerprint": attrs.get("data_fingerprint"),
        "split_sizes": attrs.get("split_sizes"),
        "metric": attrs.get("settings", {}).get("metric", "value"),
        "counts": counts,
        "elapsed_seconds": round(elapsed, 1),
        "budget": budget,
        "final": final.to_dict() if final else None,
    }


def render_summary_md(data: dict[str, Any]) -> str:
    c = data["counts"]
    lines = [
        f"# Search summary: {data['study']}",
        "",
        f"- Dataset: {data['dataset']} from {data['data_source']} (splits {data['split_sizes']}, "
        f"fingerprint {data['data_fingerprint']})",
        f"- Storage: `{data['storage']}`",
        f"- Budget: {_budget_text(data['budget'])}; time used: {data['elapsed_seconds']} s",
        f"- Trials: {c.get('complete', 0)} completed, {c.get('pruned', 0)} pruned, {c.get('fail', 0)} failed"
        + (f", {c['running']} still running" if c.get("running") else ""),
        "",
    ]
    final = data["final"]
    if final is None:
        lines += ["No winner was evaluated.", ""]
        return "\n".join(lines)
    lines += [
        "## Result",
        "",
        "| model | validation "
        + data["metric"]
        + " | test accuracy (held-out split, n="
        + str(final["n_test"])
        + ") |",
        "|---|---|---|",
        f"| best configuration (trial {final['best_trial']}) | {final['val_value']:.4f} "
        f"| {final['test_accuracy']:.4f} |",
        f"| tutorial baseline (Dense 64 relu, Adam, 10 epochs, batch 64) | - | {final['baseline_test_accuracy']:.4f} |",
        "",
        f"The winner was retrained {len(final.get('member_test_accuracies') or [1])} times (different seeds) on "
        f"train+validation for {final['epochs']} epochs (its best epoch), its members' probabilities averaged "
        f"(members alone: {', '.join(f'{a:.4f}' for a in final.get('member_test_accuracies') or [])}), and scored "
        "once on the test split, which the search never saw. Its validation score was the best of many and so is "
        "biased upward; the test score is the honest one.",
        "",
        "## Best configuration",
        "",
        "| parameter | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in final["config"].items()]
    lines += ["", f"Model: `{final['model_path']}`; configuration: `{final['config_path']}`", ""]
    return "\n".join(lines)


def _budget_text(budget: dict[str, Any]) -> str:
    parts = []
    if budget.get("trials"):
        parts.append(f"{budget['trials']} finished trials")
    if budget.get("timeout_seconds"):
        parts.append(f"{budget['timeout_seconds']:g} s of searching")
    return " or ".join(parts) or "none (until interrupted)"
