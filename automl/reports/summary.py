"""``reports/<study>/summary.md``: the short account of one search. Data first (pure), then the renderer."""

from __future__ import annotations

from typing import Any

from automl.reports.trade_off import front_table, trade_off_sentences
from automl.study.record import StudyKey, read_trial
from automl.study.study_record import FinalRecord, read_study


def summary_data(
    study: Any,
    final: FinalRecord | None,
    *,
    storage: str,
    elapsed: float,
    budget: dict[str, Any],
    split: dict[str, float] | None = None,
) -> dict[str, Any]:
    """``split``: the job's seconds by part (searching, final stage, report), when the caller timed them."""
    record = read_study(study)
    counts: dict[str, int] = {}
    rungs: dict[int, int] = {}
    for trial in study.get_trials(deepcopy=False):
        read = read_trial(trial)
        counts[read.state.lower()] = counts.get(read.state.lower(), 0) + 1
        if read.rung is not None:
            rungs[read.rung] = rungs.get(read.rung, 0) + 1
    return {
        "study": study.study_name,
        "storage": storage,
        "dataset": record.dataset,
        "data_source": record.data_source,
        "data_fingerprint": record.data_fingerprint,
        "split_sizes": record.split_sizes,
        "metric": record.metric,
        "maximize": record.maximize,
        "counts": counts,
        "elapsed_seconds": round(elapsed, 1),
        "budget": budget,
        "final": final.to_dict() if final else None,
        "ladder": list(study.user_attrs.get(StudyKey.RUNGS) or []),
        "rungs": {str(k): v for k, v in sorted(rungs.items())},  # last rung reached -> configurations
        "split": {k: round(float(v), 1) for k, v in (split or {}).items()},
    }


def rung_text(ladder: list[int], rungs: dict[str, int]) -> str:
    """``25 configurations finished at some rung; last rung reached: 2 epochs 16, 6 epochs 5, 30 epochs (full) 4``."""
    parts = []
    for index, epochs in enumerate(ladder):
        full = " (full)" if index == len(ladder) - 1 else ""
        parts.append(f"{epochs} epochs{full} {rungs.get(str(index), 0)}")
    return f"{sum(rungs.values())} configurations finished at some rung; last rung reached: " + ", ".join(parts)


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
    ]
    if data.get("ladder"):
        lines.append(f"- Fidelity ladder: {rung_text(data['ladder'], data.get('rungs') or {})}")
    split = data.get("split") or {}
    if split:
        lines.append(
            "- Time: "
            + ", ".join(f"{part} {seconds:g} s" for part, seconds in split.items())
            + f" ({sum(split.values()):.0f} s in all)"
        )
    lines.append("")
    final = data["final"]
    if final is None:
        lines += ["No winner was evaluated.", ""]
        return "\n".join(lines)
    test = final["test_metric"]
    interval = ""
    if final.get("ci_low") is not None and final.get("ci_high") is not None:
        interval = f" (95% CI {final['ci_low']:.4f}-{final['ci_high']:.4f})"
    baseline = final.get("baseline_test_value")
    lines += [
        "## Result",
        "",
        f"| model | validation {data['metric']} | test {test} (held-out split, n={final['n_test']}) |",
        "|---|---|---|",
        f"| {_final_label(final)} | {final['val_value']:.4f} | {final['test_value']:.4f}{interval} |",
    ]
    if baseline is not None:
        lines.append(f"| {final['baseline_label']} | - | {baseline:.4f} |")
    for ref in final.get("references") or []:
        if ref.get("test_value") is not None:
            lines.append(f"| {ref['label']} | - | {ref['test_value']:.4f}{_interval_text(ref)} |")
    verdicts = reference_verdicts(final, bool(data.get("maximize", True)))
    if verdicts:
        lines += ["", *verdicts]
    members = final.get("member_test_values") or []
    stage = final.get("final_stage") or {}
    alone = ", ".join(f"{a:.4f}" for a in members)
    if stage.get("mode") == "reuse":
        retrained = int(stage.get("retrained_members") or 0)
        beside = (
            f" and {retrained} member(s) of the winner retrained on train+validation for {final['epochs']} epochs"
            if retrained
            else ""
        )
        lines += [
            "",
            f"The final model averages the models the search trained for its best trials "
            f"({', '.join(str(t) for t in stage.get('kept_trials') or [])}), kept in the study's artifact store,"
            f"{beside} (alone: {alone}), and was scored once on the test split, which the search never saw. "
            f"Why not retrain them all: {stage.get('why')}.",
            "",
        ]
    else:
        lines += [
            "",
            f"The winner was retrained {len(members) or 1} time(s) (different seeds) on train+validation for "
            f"{final['epochs']} epochs (its best epoch)"
            + (f", its members combined (members alone: {alone})" if len(members) > 1 else "")
            + ", and scored once on the test split, which the search never saw. Its validation score was the best of "
            "many and so is biased upward; the test score is the honest one.",
            "",
        ]
        if stage.get("why"):
            lines += [f"Why retrained: {stage['why']}.", ""]
    lines += _ensemble_lines(stage.get("ensemble") or {})
    lines += trade_off_lines(stage.get("trade_off") or {})
    if stage:
        cost = f"The final stage took {stage.get('seconds')} s"
        lines += [cost + (f"; {stage['note']}." if stage.get("note") else "; it ran in full."), ""]
    lines += ["## Best configuration", "", "| parameter | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in final["config"].items()]
    lines += ["", f"Model: `{final['model_path']}`; configuration: `{final['config_path']}`", ""]
    return "\n".join(lines)


def _budget_text(budget: dict[str, Any]) -> str:
    parts = []
    if budget.get("trials"):
        parts.append(f"{budget['trials']} finished trials")
    if budget.get("timeout_seconds"):
        parts.append(f"{budget['timeout_seconds']:g} s of searching")
    text = " or ".join(parts) or "none (until interrupted)"
    if budget.get("time_budget_seconds"):
        text += f"; {budget['time_budget_seconds']:g} s for the whole job"
    return text


def _interval_text(entry: dict[str, Any]) -> str:
    if entry.get("ci_low") is None or entry.get("ci_high") is None:
        return ""
    return f" (95% CI {entry['ci_low']:.4f}-{entry['ci_high']:.4f})"


def reference_verdicts(final: dict[str, Any], maximize: bool) -> list[str]:
    """Plain sentences for each reference the winner does not beat beyond its 95% interval (empty: it beats all,
    or no interval was computed). A reference inside the winner's interval is a tie as far as this test split
    can tell, so the search bought nothing measurable over it."""
    low, high = final.get("ci_low"), final.get("ci_high")
    if low is None or high is None:
        return []
    references = [{"label": final.get("baseline_label"), "test_value": final.get("baseline_test_value")}]
    references += list(final.get("references") or [])
    test = final["test_metric"]
    out = []
    for ref in references:
        value = ref.get("test_value")
        if value is None or not ref.get("label"):
            continue
        beaten = value < low if maximize else value > high
        if not beaten:
            out.append(
                f"**The winner does not beat the {ref['label']} beyond its 95% confidence interval** "
                f"(test {test} {final['test_value']:.4f}, interval {low:.4f}-{high:.4f}; {ref['label']}: "
                f"{value:.4f}): on this test split the search bought nothing measurable over it."
            )
    return out


def _final_label(final: dict[str, Any]) -> str:
    """The result table's name for the final model: the best configuration, or the ensemble built around it."""
    ensemble = (final.get("final_stage") or {}).get("ensemble") or {}
    if ensemble.get("chosen") == "ensemble":
        trials = ", ".join(str(m["trial"]) for m in ensemble.get("members") or [])
        return f"ensemble of trials {trials} (validation: best configuration, trial {final['best_trial']})"
    return f"best configuration (trial {final['best_trial']})"


def trade_off_lines(trade: dict[str, Any]) -> list[str]:
    """A search with several objectives or bounds: the rule that picked the final trial, and the feasible front."""
    if not trade:
        return []
    header, rows = front_table(trade)
    lines = ["## Trade-off", ""]
    for sentence in trade_off_sentences(trade):
        lines += [f"**{sentence}**" if sentence.startswith("Warning") else sentence, ""]
    if rows:
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    return lines


def _ensemble_lines(ensemble: dict[str, Any]) -> list[str]:
    """Which final model was chosen, the ensemble of the best trials or the single best, and why."""
    if not ensemble:
        return []
    if ensemble.get("chosen") != "ensemble":
        return [f"The final model is the single best trial, not an ensemble: {ensemble.get('why')}.", ""]
    members = ", ".join(f"trial {m['trial']} ({m['family']}) x{m['weight']}" for m in ensemble.get("members") or [])
    return [
        f"The final model is a weighted ensemble, {members}, each member retrained on train+validation; it "
        f"averages their predictions (class probabilities, for classes) with these weights. Chosen because "
        f"{ensemble.get('why')}.",
        "",
    ]
