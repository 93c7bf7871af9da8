"""report.md and report.html from one source: the sections built here, rendered by two thin Jinja2 templates.

:func:`sections` turns :class:`~automl.reports.data.ReportData` into titled sections of blocks (text, a list, a
table, a figure) holding plain strings; ``templates/report.md`` and ``templates/report.html`` each walk them once.
HTML is autoescaped, so a study name or a failure reason can never inject markup. A block may belong to one
format only (the HTML page lists every trial; the Markdown file points at trials.csv).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from automl.reports.data import ReportData
from automl.reports.figures import PLOT_FILES, PLOT_TITLES
from automl.reports.tables import (
    diagnosis_table,
    fmt,
    seed_table,
    thresholds_table,
    top_table,
    trials_table,
)
from automl.reports.trade_off import front_table, trade_off_sentences
from automl.study.record import held_out_metric

if TYPE_CHECKING:
    import jinja2  # loaded where the reports are rendered

HTML_TRIAL_ROWS = 200  # larger studies list every trial in trials.csv only, keeping the HTML small
FIGURE_ORDER = ("learning_curves", "gap_vs_value", "importances", "optimization_history", "pruning_savings")


@dataclass(frozen=True)
class Block:
    """One piece of a section. ``kind``: text (paragraphs), list, table or figure; ``only``: "html", "md" or ""."""

    kind: str
    lines: tuple[str, ...] = ()
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    caption: str = ""
    style: str = ""  # the HTML class: "honest", "advice", "note"
    image: str = ""  # a figure's file, which report.md links
    png: str = ""  # a figure's PNG in base64, which report.html embeds
    alt: str = ""  # a figure's text alternative
    only: str = ""


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    blocks: tuple[Block, ...]


def _text(*lines: str, style: str = "", only: str = "") -> Block:
    return Block("text", lines=tuple(lines), style=style, only=only)


def _table(header: list[str], rows: list[list[str]], caption: str = "", style: str = "", only: str = "") -> Block:
    return Block(
        "table", header=tuple(header), rows=tuple(tuple(r) for r in rows), caption=caption, style=style, only=only
    )


def trials_line(data: ReportData) -> str:
    c = data.counts
    running = f", {c['running']} running" if c.get("running") else ""
    return (
        f"{len(data.rows)} in all: {c.get('complete', 0)} completed, {c.get('pruned', 0)} pruned, "
        f"{c.get('fail', 0)} failed{running}"
    )


def header_lines(data: ReportData) -> list[str]:
    r = data.record
    lines = [f"Storage: {data.storage or '-'}"]
    if r.dataset:
        lines.append(
            f"Dataset: {r.dataset} from {r.data_source} (splits {r.split_sizes}, fingerprint {r.data_fingerprint})"
        )
    lines.append(f"Objective: {data.metric} ({data.direction})")
    lines.append(f"Trials: {trials_line(data)}")
    lines.append(f"Generated: {data.generated}")
    return lines


def final_lines(data: ReportData) -> list[str]:
    """The honest final estimate: the retrained winner's one held-out score, its interval, the selection bias."""
    f = data.final
    if f is None:
        return [f"No honest estimate: {data.final_note}."]
    best_of = data.counts.get("complete", 0)
    epochs = f"{f.epochs} epoch{'' if f.epochs == 1 else 's'}"
    test = (
        f"Test {f.test_metric} of the winner retrained on train+validation for {epochs}, scored once on "
        f"the held-out split (n={f.n_test}): {f.test_value:.4f}"
    )
    if f.ci is not None:
        test += f", 95% CI [{f.ci[0]:.4f}, {f.ci[1]:.4f}] ({f.ci_method})."
    else:
        test += f" (no confidence interval: none was recorded, and {f.test_metric} is not a proportion)."
    lines = [
        f"Validation {data.metric} of the winner (trial {f.trial}, best of {best_of} completed trials): "
        f"{f.val_value:.4f}.",
        test,
    ]
    if len(f.member_test_values) > 1:
        alone = ", ".join(f"{v:.4f}" for v in f.member_test_values)
        lines.append(
            f"The final model combines {len(f.member_test_values)} members retrained with different seeds; "
            f"alone they scored {alone}."
        )
    if f.selection_bias is not None:
        word = "optimistic" if f.selection_bias > 0 else "not optimistic here"
        lines.append(
            f"Selection bias (how much better validation looked than test): {f.selection_bias:+.4f} ({word}). "
            "The best of many validation scores is biased in its favour; the test score is the honest one."
        )
    if f.baseline_test_value is not None:
        label = f.baseline_label[:1].upper() + f.baseline_label[1:]
        lines.append(f"{label} on the same split: test {f.test_metric} {f.baseline_test_value:.4f}.")
    for ref in f.references:
        if ref.get("test_value") is not None:
            label = str(ref["label"])[:1].upper() + str(ref["label"])[1:]
            lines.append(f"{label} on the same split: test {f.test_metric} {ref['test_value']:.4f}.")
    lines += [v.replace("**", "") for v in f.verdicts]
    return lines


def summary_lines(data: ReportData) -> list[str]:
    s = data.summary
    counts = ", ".join(f"{n} {label}" for label, n in s.counts.items()) or "none"
    top_counts = ", ".join(f"{n} {label}" for label, n in s.top_counts.items()) or "none"
    lines = [f"Diagnoses of the {s.n_diagnosed} trials that were not pruned: {counts}."]
    if s.n_pruned:
        lines.append(
            f"{s.n_pruned} pruned {'trial is' if s.n_pruned == 1 else 'trials are'} counted apart: stopped early "
            "is no evidence of under- or overfitting."
        )
    lines.append(f"Of the top {s.top_k}: {top_counts}.")
    if s.typical_turn_epoch is not None:
        lines.append(f"Typical epoch where validation loss turns up (overfitting trials): {s.typical_turn_epoch:g}.")
    if s.median_best_epoch_top is not None:
        lines.append(
            f"Median best epoch of the top {s.top_k}: {s.median_best_epoch_top:g}"
            + (f" of a budget of {data.max_epochs}." if data.max_epochs else ".")
        )
    return lines


def pruning_lines(data: ReportData) -> list[str]:
    p = data.pruning
    if not p["budget_epochs"]:
        return ["No epoch counts were recorded, so the savings of pruning cannot be measured."]
    return [
        f"{p['trained_epochs']} epochs trained of {p['budget_epochs']} had every trial run to its full budget: "
        f"{p['saved_fraction']:.0%} saved ({p['saved_by_pruning']} epochs by pruning, "
        f"{p['saved_by_early_stopping']} by early stopping)."
    ]


# --------------------------------------------------------------------------------------------------------------
# The sections, once


def sections(data: ReportData, images: dict[str, bytes], notes: dict[str, str]) -> list[Section]:
    """Every section of the report, in order, as plain strings (both templates render these)."""
    honest = [_text(*final_lines(data), style="honest")]
    if data.seed_spreads:
        honest.append(
            _table(
                *seed_table(data),
                caption="Spread across retraining seeds (each seed retrained on train+validation, tested once):",
            )
        )
    best = [_table(*top_table(data))] if data.top else [_text("No trial completed.")]
    diagnostics = [
        _text(*summary_lines(data)),
        Block("list", lines=tuple(data.summary.recommendations), caption="Recommendation:", style="advice"),
    ]
    if data.top:
        diagnostics.append(_table(*diagnosis_table(data)))
    diagnostics.append(
        _table(
            *thresholds_table(),
            caption=(
                f"Thresholds (gaps compare training and validation {held_out_metric(data.metric)}; positive: "
                "training looks better):"
            ),
            style="note",
        )
    )
    result = [
        Section("honest", "Honest final estimate", tuple(honest)),
        *_trade_off_section(data, images, notes),
        Section("best", f"Best configurations (top {len(data.top)})", tuple(best)),
        Section("diagnostics", "Overfitting diagnostics", tuple(diagnostics)),
    ]
    for key in FIGURE_ORDER:
        blocks: list[Block] = []
        if key == "importances":
            blocks.append(_text(data.importance_note + ".", style="note"))
        if key == "pruning_savings":
            blocks.append(_text(*pruning_lines(data)))
        if key in images:
            png = base64.b64encode(images[key]).decode("ascii")
            blocks.append(Block("figure", alt=PLOT_TITLES[key], image=PLOT_FILES[key], png=png))
        elif key in notes:
            blocks.append(_text(f"Not drawn: {notes[key]}.", style="note"))
        result.append(Section(key, PLOT_TITLES[key], tuple(blocks)))
    trials = [_text(f"All {len(data.rows)} trials with every number: trials.csv.", style="note")]
    if len(data.rows) <= HTML_TRIAL_ROWS:
        trials.insert(0, _table(*trials_table(data), only="html"))
    result.append(Section("trials", "All trials", tuple(trials)))
    return result


def _trade_off_section(data: ReportData, images: dict[str, bytes], notes: dict[str, str]) -> list[Section]:
    """Several objectives or bounds: the rule and the pick, the front as a table, and score against cost."""
    if data.trade_off is None:
        return []
    trade = data.trade_off.to_dict()
    recorded = ((data.record.final.final_stage if data.record.final else None) or {}).get("trade_off") or {}
    if recorded.get("final_latency_ms") is not None:
        trade["final_latency_ms"] = recorded["final_latency_ms"]
    blocks = [_text(*trade_off_sentences(trade))]
    header, rows = front_table(trade)
    if rows:
        blocks.append(_table(header, rows, caption="The front (feasible trials no other beats on every objective):"))
    if "pareto" in images:
        png = base64.b64encode(images["pareto"]).decode("ascii")
        blocks.append(Block("figure", alt=PLOT_TITLES["pareto"], image=PLOT_FILES["pareto"], png=png))
    elif "pareto" in notes:
        blocks.append(_text(f"Not drawn: {notes['pareto']}.", style="note"))
    return [Section("trade_off", "Trade-off: the front and the pick", tuple(blocks))]


# --------------------------------------------------------------------------------------------------------------
# Templates


def _md_table(block: Block) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in block.header) + " |", "|" + "---|" * len(block.header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in block.rows]
    return "\n".join(lines)


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("automl.reports", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,  # a misspelt field fails the tests instead of printing nothing
    )
    env.filters["md_table"] = _md_table
    return env


def _render(template: str, data: ReportData, images: dict[str, bytes], notes: dict[str, str]) -> str:
    return (
        _environment()
        .get_template(template)
        .render(study=data.study, header=header_lines(data), sections=sections(data, images, notes))
    )


def render_markdown(data: ReportData, images: dict[str, bytes], notes: dict[str, str]) -> str:
    return _render("report.md", data, images, notes)


def render_html(data: ReportData, images: dict[str, bytes], notes: dict[str, str]) -> str:
    """One self-contained page: styles inline, figures embedded as base64 PNG data URIs."""
    return _render("report.html", data, images, notes)


def terminal_summary(data: ReportData, html_path: Any, n_images: int) -> list[str]:
    """The few lines `automl report` prints."""
    lines = [f"Study {data.study}: {trials_line(data)}"]
    if data.top:
        best = data.top[0]
        lines.append(f"Best: trial {best.number}, validation {data.metric} {fmt(best.value)} ({best.diagnosis.title})")
    lines += final_lines(data)[1:2] if data.final else [f"Test: {data.final_note}"]
    if data.final is not None and data.final.selection_bias is not None:
        lines.append(f"Selection bias (how much better validation looked than test): {data.final.selection_bias:+.4f}")
    lines += [line for line in summary_lines(data) if not line.startswith(("Typical", "Median"))]
    lines += [f"Advice: {r}" for r in data.summary.recommendations]
    lines.append(f"Report: {html_path}  (also report.md, trials.csv, {n_images} PNGs)")
    return lines
