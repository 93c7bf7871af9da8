"""The Ray tests' session fixture: one real two-node cluster for all of them (see ray_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ray_support import RayCluster, running_cluster


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    with running_cluster() as cluster:
        yield cluster
