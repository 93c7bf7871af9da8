"""Connecting to Ray: start a local runtime sized to this machine, or join a cluster, with one-line errors."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from dataclasses import dataclass
from typing import Any

from automl.errors import AutomlError

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'ray[tune]>=2.9'"
CONNECT_TIMEOUT_S = 5.0  # a TCP probe before ray.init: Ray itself retries an unreachable GCS for a minute


class ClusterError(AutomlError):
    """A Ray cluster that cannot run the search (missing Ray, unreachable, too small, refused)."""


@dataclass(frozen=True)
class Cluster:
    """The Ray runtime this driver is connected to."""

    address: str  # "local" for a runtime this process started
    cpus: float  # the whole cluster's CPUs
    largest_node_cpus: float  # a trial's CPUs must fit on one node
    nodes: int
    started_here: bool
    owned: bool  # this driver opened the Ray session, so it closes it


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ClusterError(f"backend 'ray': Ray is not installed; install it with {INSTALL_HINT}") from None
    return ray


def _probe(address: str) -> None:
    """Fail fast on a HOST:PORT nobody listens on (``auto`` and ``ray://`` are left to Ray)."""
    if address.startswith("ray://"):
        # Ray Client runs Tune on the head node, away from the driver's study; automl's driver must run Tune.
        raise ClusterError(
            f"--address {address!r}: Ray Client (ray://) is not supported; give the head's GCS address HOST:PORT "
            "(port 6379 by default) or run automl on a node of the cluster with --address auto"
        )
    if address == "auto" or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise ClusterError(f"--address {address!r}: must be auto or HOST:PORT (the head's GCS port, 6379 by default)")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise ClusterError(
            f"Ray cluster at {address}: cannot be reached ({exc.strerror or exc}); start it with "
            f"`ray start --head --port {port}` on {host}, or check the address and firewall"
        ) from None


def _is_auth_refusal(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in ("unauthenticated", "authentication", "invalidauthtoken"))


def connect(address: str | None, cpus_per_trial: float) -> Cluster:
    """Join ``address`` (``auto``, ``HOST:PORT`` or ``ray://HOST:PORT``) or start a local runtime (None), and
    check that one trial fits on a node."""
    ray = import_ray()
    if address is not None:
        _probe(address)
    # The driver's logs and Tune's console tables would drown the progress display; trials report through Tune.
    options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING, "log_to_driver": False}
    owned = not ray.is_initialized()
    started_here = address is None and owned
    try:
        if not ray.is_initialized():
            if address is None:
                ray.init(num_cpus=os.cpu_count() or 1, **options)
            else:
                ray.init(address=address, **options)
    except ConnectionError as exc:
        if _is_auth_refusal(f"{exc} {exc.__cause__}"):  # Ray wraps the refusal in a ConnectionError
            raise ClusterError(
                f"Ray cluster at {address}: refused the connection for authentication (token missing or wrong); "
                "set the cluster's token in RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) before running automl"
            ) from None
        raise ClusterError(
            f"Ray cluster at {address}: cannot connect ({str(exc).splitlines()[0][:200]}); start one with "
            "`ray start --head`, or give --address HOST:PORT"
        ) from None
    except Exception as exc:  # Ray raises several types for a refused handshake; name the one we understand
        text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        if _is_auth_refusal(str(exc)):
            raise ClusterError(
                f"Ray cluster at {address}: refused the connection for authentication ({text}); set the "
                "cluster's token in RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) before running automl"
            ) from None
        raise
    cluster = describe(ray, address or "local", started_here, owned)
    if cluster.largest_node_cpus < cpus_per_trial:
        disconnect(cluster)
        raise ClusterError(
            f"Ray cluster at {cluster.address}: not enough CPUs for one trial (--cpus-per-trial {cpus_per_trial:g}, "
            f"largest node has {cluster.largest_node_cpus:g} of {cluster.cpus:g} in all); lower --cpus-per-trial "
            "or add a bigger node"
        )
    log.info("ray: %s, %d node(s), %g CPUs", cluster.address, cluster.nodes, cluster.cpus)
    return cluster


def describe(ray: Any, address: str, started_here: bool, owned: bool) -> Cluster:
    alive = [n for n in ray.nodes() if n.get("Alive")]
    cpus = [float(n.get("Resources", {}).get("CPU", 0.0)) for n in alive]
    return Cluster(address, sum(cpus), max(cpus, default=0.0), len(alive), started_here, owned)


def disconnect(cluster: Cluster) -> None:
    """Leave the cluster (a joined cluster keeps running; a runtime started here stops). A Ray session the caller
    had already opened (a notebook, a benchmark) is left as it was."""
    if not cluster.owned:
        return
    ray = import_ray()
    with contextlib.suppress(Exception):  # shutting down after a failure must not mask it
        ray.shutdown()
