"""Starting or joining Ray, for both halves (`selfplay.distributed`, `atomgrid.distributed`): the only
traincore module that imports Ray.

`init_ray(address)` joins a cluster started with `ray start --head` (`address` "HOST:6379"); without an
address it starts an embedded Ray in this process: no dashboard, no usage report, and every server on the
loopback interface.

Why the loopback needs a switch: Ray turns a 127.0.0.1 node address into the machine's external IP and then
listens on every interface, unless it runs in its single-machine mode (the one it uses on macOS and
Windows). That mode is chosen by the environment variable RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER, which Ray reads
once, when `ray` is first imported (`ray._private.ray_constants.ENABLE_RAY_CLUSTER`). `init_ray` sets the
variable (Ray's own workers inherit it); when Ray was imported before (as it is by every module that
declares `@ray.remote` classes), the value read at import is updated too. That is the one private setting
used here, guarded: if a Ray version drops it, a warning says so, and `tests/test_selfplay_ray.py` checks the
listening sockets. Cluster joins (`address` given) change nothing.
"""
from __future__ import annotations

import os
import sys
import warnings

LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def _single_machine_mode() -> None:
    os.environ[LOOPBACK_ENV] = "0"
    consts = sys.modules.get("ray._private.ray_constants")
    if consts is None:
        return   # Ray reads the variable when it is imported below
    if not hasattr(consts, "ENABLE_RAY_CLUSTER"):
        warnings.warn("this Ray version has no ray_constants.ENABLE_RAY_CLUSTER: the embedded Ray may listen "
                      "on every interface, not only on 127.0.0.1", RuntimeWarning, stacklevel=3)
        return
    consts.ENABLE_RAY_CLUSTER = False


def check_address(address: str, timeout: float = 5.0) -> None:
    """ValueError (one line) unless something accepts a TCP connection at ``address`` ("HOST:PORT", Ray's GCS):
    ray.init would otherwise retry an unreachable address for minutes. "auto" (Ray's own lookup) is not checked."""
    import socket
    if address == "auto" or address.startswith("ray://"):
        return
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"--address {address!r}: expected HOST:PORT of a Ray head (ray start --head), e.g. 10.0.0.5:6379")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ValueError(f"--address {address}: no Ray head answers there ({exc.strerror or exc}); start one with "
                         "ray start --head, or leave --address out for a local Ray") from None


def init_ray(address: str | None = None, num_cpus: int | None = None, *, log_to_driver: bool = False) -> None:
    """Join the Ray cluster at `address`, or start an embedded local Ray with `num_cpus` CPUs (default: all
    cores) bound to 127.0.0.1 with no dashboard. A no-op when Ray is already initialised."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if not address:
        _single_machine_mode()
    import ray
    if ray.is_initialized():
        return
    if address:
        check_address(address)
        ray.init(address=address, log_to_driver=log_to_driver)
    else:
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), include_dashboard=False,
                 log_to_driver=log_to_driver, configure_logging=False)
