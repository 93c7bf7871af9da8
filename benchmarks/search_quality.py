"""Held-out test accuracy of automl's default search at a given time budget, next to the tutorial baseline.

Runs the real `automl search mnist` pipeline in-process (offline sample: 3,200 train / 800 validation / 1,000
held-out test images), so the figures include retraining the winner and scoring it once on the held-out split.

    .venv/bin/python benchmarks/search_quality.py --timeout 300      # the 300 s target
    .venv/bin/python benchmarks/search_quality.py                    # the default: the space's whole-job budget (570 s)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=None, help="search seconds (default: the space's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    os.environ.setdefault("AUTOML_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AUTOML_HOME"] = tmp
        import automl

        started = time.monotonic()
        result = automl.search(
            "mnist", timeout=args.timeout, seed=args.seed, reports_dir=Path(tmp) / "reports", live=False, quiet=True
        )
        wall = time.monotonic() - started
    c = result.counts
    print(
        f"budget={args.timeout or 'default'}s seed={args.seed} wall={wall:.0f}s trials: {c.get('complete', 0)} "
        f"complete, {c.get('pruned', 0)} pruned, {c.get('fail', 0)} failed"
    )
    print(
        f"validation={result.best_value:.4f} held-out test={result.test_accuracy:.4f} "
        f"baseline test={result.baseline_test_accuracy:.4f}"
    )


if __name__ == "__main__":
    main()
