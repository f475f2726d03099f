"""Ray, the optional cluster (pip install 'waifu-morph[ray]'): import it, connect, size the workers.

The one place both Ray users call: batch jobs across a cluster (batch/ray_runner.py) and one long
clip split into parts across it (render/sharded.py).
"""

from __future__ import annotations

from .errors import WaifuError


def import_ray():
    """The ray module, or a one-line error naming the extra."""
    try:
        import ray
    except ImportError:
        raise WaifuError("--ray needs Ray, which is an optional extra: pip install 'waifu-morph[ray]'") from None
    return ray


def connect(address: str):
    """Ray, initialised at `address` ('auto': the cluster `ray start` made on this node) unless this
    process already is; a one-line error when no cluster answers."""
    ray = import_ray()
    if not ray.is_initialized():
        try:
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise WaifuError(f"cannot connect to Ray at '{address}' ({' '.join(str(err).split())[:160]}); "
                             f"start one with `ray start --head` or pass its address") from None
    return ray


def plan_workers(resources: dict, num_jobs: int) -> tuple[int, dict]:
    """(number of workers, actor options): one per GPU with one GPU each, else one per CPU."""
    gpus = int(resources.get("GPU", 0))
    if gpus > 0:
        return max(1, min(gpus, num_jobs)), {"num_gpus": 1}
    cpus = int(resources.get("CPU", 1))
    return max(1, min(cpus, num_jobs)), {"num_cpus": 1}
