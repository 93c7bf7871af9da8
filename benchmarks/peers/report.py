"""The peer benchmark's tables, in Markdown, from the result files ``runner.py`` wrote (pure: files in, text out).

PYTHONPATH=. .venv/bin/python benchmarks/peers/report.py benchmarks/peers/results
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

MNIST_ORDER = ("automl", "random", "optuna_tpe", "kerastuner_hyperband", "ray_asha")
TABLE_ORDER = ("automl", "flaml", "autogluon")


def _load(folder: Path) -> tuple[list[dict[str, Any]], list[str]]:
    rows, failures = [], []
    for path in sorted(folder.glob("*.json")):
        row = json.loads(path.read_text())
        if "error" in row:
            failures.append(f"{path.stem}: {row['error']}")
        else:
            rows.append(row)
    return rows, failures


def _spread(values: list[float], scale: float = 100.0, digits: int = 2) -> str:
    """Median (min-max), as percentages for accuracies (``scale`` 100) or plain for RMSE (``scale`` 1)."""
    if not values:
        return "-"
    med, low, high = (scale * v for v in (statistics.median(values), min(values), max(values)))
    return f"{med:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})" if len(values) > 1 else f"{med:.{digits}f}"


def mnist_section(rows: list[dict[str, Any]], reference_budget: float) -> list[str]:
    by: dict[tuple[float, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by[(float(row["budget"]), row["method"])].append(row)
    out = ["### MNIST (`mnist_cnn` space; held-out test accuracy, %)", ""]
    out += [
        "| budget | method | seeds | test accuracy, median (min-max) | trials | epochs trained | final retraining "
        "epochs | wall, median | validation - test (winner's curse), mean (max) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    medians: dict[tuple[float, str], float] = {}
    for budget in sorted({b for b, _ in by}):
        for method in [m for m in MNIST_ORDER if (budget, m) in by]:
            group = by[(budget, method)]
            tests = [r["test_accuracy"] for r in group]
            medians[(budget, method)] = statistics.median(tests)
            gaps = [100 * (r["validation"] - r["test_accuracy"]) for r in group]
            out.append(
                f"| {budget:g} s | {method} | {', '.join(str(r['seed']) for r in group)} | {_spread(tests)} "
                f"| {statistics.median(r['trials'] for r in group):g} "
                f"| {statistics.median(r['epochs'] for r in group):g} "
                f"| {statistics.median(r['final_epochs'] for r in group):g} "
                f"| {statistics.median(r['wall'] for r in group):.0f} s "
                f"| {statistics.mean(gaps):+.2f} ({max(gaps, key=abs):+.2f}) |"
            )
    out += ["", *_mnist_verdicts(medians, reference_budget), *machines_note(rows)]
    return out


def machines_note(rows: list[dict[str, Any]]) -> list[str]:
    """Which machines each budget's runs had (``mnist_common.machine``): a comparison holds only between runs on
    one machine, and the project's VMs differ between sessions. A budget measured seed by seed on several machines
    still compares its methods, when each seed's runs (of one table) shared a machine: every method's median then
    covers the same machines. Runs recorded before the field say so."""
    by: dict[float, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    blocks: dict[tuple[float, Any, Any], set[str]] = defaultdict(set)
    for row in rows:
        machine = row.get("machine", "not recorded")
        by[float(row["budget"])][machine] += 1
        blocks[(float(row["budget"]), row.get("table"), row.get("seed"))].add(machine)
    lines = []
    for budget, machines in sorted(by.items()):
        mixed = ""
        if len(machines) > 1:
            one_each = all(len(m) == 1 for (b, _, _), m in blocks.items() if b == budget)
            mixed = (" (each seed's methods on one machine: they compare seed by seed)" if one_each
                     else " (**mixed machines**: these runs are not comparable)")  # fmt: skip
        named = "; ".join(f"{name} ({count} runs)" for name, count in sorted(machines.items()))
        lines.append(f"- Machine at {budget:g} s: {named}{mixed}.")
    return lines


def _mnist_verdicts(medians: dict[tuple[float, str], float], reference: float) -> list[str]:
    lines = []
    for budget in sorted({b for b, _ in medians}):
        ours = medians.get((budget, "automl"))
        peers = {m: v for (b, m), v in medians.items() if b == budget and m != "automl"}
        if ours is None or not peers:
            continue
        best_peer = max(peers, key=lambda m: peers[m])
        verdict = "holds" if ours > peers[best_peer] else "**missed**"
        lines.append(f"- {budget:g} s: automl's median {100 * ours:.2f}% against the best peer's ({best_peer}) "
                     f"{100 * peers[best_peer]:.2f}%: beating every peer's median {verdict}.")  # fmt: skip
    target = medians.get((reference, "random"))
    if target is not None:
        reached = sorted(b for (b, m), v in medians.items() if m == "automl" and v >= target)
        first = f"{reached[0]:g} s" if reached else "not within the budgets run"
        goal = "holds" if reached and reached[0] <= reference / 4 else "**missed**"
        lines.append(f"- Time to quality: random search's {reference:g} s median is {100 * target:.2f}%; automl's "
                     f"median reaches it at {first} (goal: {reference / 4:g} s or less): {goal}.")  # fmt: skip
        for method in MNIST_ORDER[1:]:
            hits = sorted(b for (b, m), v in medians.items() if m == method and v >= target)
            lines.append(f"  - {method}: {f'{hits[0]:g} s' if hits else 'not within the budgets run'}")
    return lines


def tables_section(rows: list[dict[str, Any]]) -> list[str]:
    by: dict[tuple[str, float, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by[(row["table"], float(row["budget"]), row["method"])].append(row)
    out = ["### Tables (test accuracy % for classification, RMSE for regression; median (min-max) over seeds)", ""]
    out += ["| table | metric | budget | " + " | ".join(TABLE_ORDER) + " | automl ahead of every median |"]
    out += ["|---|---|---|" + "---|" * len(TABLE_ORDER) + "---|"]
    for table, budget in sorted({(t, b) for t, b, _ in by}):
        groups = {m: by[(table, budget, m)] for m in TABLE_ORDER if by.get((table, budget, m))}
        any_row = next(iter(groups.values()))[0]
        accuracy = any_row["metric"] == "accuracy"
        cells, medians = [], {}
        for method in TABLE_ORDER:
            values = [r["test"] for r in groups.get(method, [])]
            if values:
                medians[method] = statistics.median(values)
            cells.append(_spread(values, 100.0 if accuracy else 1.0, 2 if accuracy else 3))
        ours = medians.get("automl")
        others = [v for m, v in medians.items() if m != "automl"]
        ahead = "-" if ours is None or not others else (
            "yes" if all((ours > v) if accuracy else (ours < v) for v in others) else "**no**"
        )  # fmt: skip
        out.append(f"| {table} | {any_row['metric']} | {budget:g} s | {' | '.join(cells)} | {ahead} |")
    return [*out, "", *machines_note(rows)]


def text_section(title: str, path: Path) -> list[str]:
    return [f"### {title} (`{path.name}`)", "", "```", path.read_text().rstrip(), "```"] if path.exists() else []


def render(folder: Path, reference_budget: float) -> str:
    mnist_rows, mnist_failures = _load(folder / "mnist")
    table_rows, table_failures = _load(folder / "tables")
    out = ["## Peer benchmark", ""]
    if mnist_rows:
        out += [*mnist_section(mnist_rows, reference_budget), ""]
    if table_rows:
        out += [*tables_section(table_rows), ""]
    out += text_section("Overhead per trial against raw Optuna", folder / "overhead.txt")
    out += text_section("Overhead per trial against plain Ray Tune", folder / "ray_overhead.txt")
    throughput = folder / "throughput.json"
    if throughput.exists() and "error" not in (figures := json.loads(throughput.read_text())):
        out += ["", "### Training throughput inside a trial", "",
                f"{figures['epochs']} epochs: plain `model.fit` {min(figures['plain']):.1f} s, automl trial "
                f"{min(figures['automl']):.1f} s; ratio {figures['ratio']:.2f} (goal >= 0.9: "
                f"{'holds' if figures['ratio'] >= 0.9 else '**missed**'})."]  # fmt: skip
    failures = mnist_failures + table_failures
    if failures:
        out += ["", "### Runs that failed", "", *(f"- {line}" for line in failures)]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "results"
    print(render(target, reference_budget=float(sys.argv[2]) if len(sys.argv) > 2 else 600.0))
