"""What the tests share besides fixtures: paths, sizes, the PostgreSQL URL and small table writers.

Test modules import these from here (``from support import ...``), never from ``conftest``: pytest keeps only
the last conftest it imported under that module name, so a second conftest (tests/backends/ray/) would shadow this.
"""

from __future__ import annotations

import os
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
TINY_SPACE = FIXTURES / "tiny_mlp.yaml"  # real Keras training: for the tests of training itself
TINY_SYNTHETIC = FIXTURES / "tiny_synthetic.yaml"  # the same space on the synthetic family: coordination tests
SLOW_SYNTHETIC = FIXTURES / "slow_synthetic.yaml"  # about a second per trial: tests that act while trials run
TINY_TABULAR = FIXTURES / "tiny_tabular.yaml"  # each scikit-learn family once, few iterations (classification)
TINY_TABULAR_REGRESSION = FIXTURES / "tiny_tabular_regression.yaml"  # the same, minimising val_rmse
TINY_LIMIT = 600  # examples: 384 train / 96 val / 120 test; a trial takes a second or two
POSTGRES_URL = os.environ.get("AUTOML_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def write_mixed_table(path: Path, rows: int = 120, seed: int = 0) -> Path:
    """A small table with numeric, categorical and boolean features, missing values, an ID column, padded
    headers and a string target; CSV or Parquet by the suffix of ``path``."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    size = rng.normal(size=rows)
    colour = rng.choice(["red", "green", "blue"], size=rows).astype(object)
    member = rng.random(rows) < 0.5
    score = size + (colour == "red") * 1.5 + member * 0.5 + rng.normal(scale=0.3, size=rows)
    frame = pd.DataFrame(
        {
            " customer_id ": np.arange(1000, 1000 + rows),
            "size ": size,
            " colour": colour,
            "member": member,
            "label": np.where(score > 0.6, "yes", "no"),
        }
    )
    frame.loc[::7, "size "] = np.nan
    frame.loc[3::11, " colour"] = None
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    return path
