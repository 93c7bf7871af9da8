"""What the summary and the report say of a search with several objectives or bounds, from the trade-off's record
(:meth:`automl.analysis.front.TradeOff.to_dict`, kept in the final record): sentences, and the front as a table."""

from __future__ import annotations

from typing import Any


def trade_off_sentences(trade: dict[str, Any]) -> list[str]:
    """The objectives and bounds, whether pruning ran, which trial the rule picked and why (or the warning that no
    trial met the bounds), and the final model's latency when it was measured."""
    objectives = trade.get("objectives") or []
    bounds = ", ".join(trade.get("constraints") or []) or "none"
    head = f"Objectives: {', '.join(objectives)}; bounds: {bounds}."
    if len(objectives) > 1:
        head += " Pruning was off: Optuna's pruners compare one objective, so every trial trained in full."
    lines = [head]
    if trade.get("unsatisfied"):
        lines.append(f"Warning: {trade.get('why')}. Loosen the bounds or widen the space.")
    elif trade.get("picked") is not None:
        lines.append(f"Picked trial {trade['picked']} by the rule '{trade.get('pick')}': {trade.get('why')}.")
    if trade.get("final_latency_ms") is not None:
        lines.append(
            f"The final model predicts in {trade['final_latency_ms']:.4g} ms per example (timed on the same batch of "
            "validation rows as the trials)."
        )
    front = trade.get("front") or []
    lines.append(
        f"{trade.get('feasible', 0)} of {trade.get('completed', 0)} completed trials met the bounds; {len(front)} of "
        "them form the front (no other feasible trial is as good on every objective and better on one)."
    )
    return lines


def front_table(trade: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The front's trials with every measured value, the picked one marked."""
    front = trade.get("front") or []
    metrics = sorted({k for point in front for k in point if k != "trial"})
    rows = [
        [f"{p['trial']}" + (" (picked)" if p["trial"] == trade.get("picked") else "")]
        + [f"{p[m]:.6g}" if m in p else "-" for m in metrics]
        for p in front
    ]
    return ["trial", *metrics], rows
