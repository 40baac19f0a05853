"""Run jobs as Ray tasks: on a local Ray started on demand, or on a cluster (``address``).

Each job becomes one task with a resource request (a GPU when the job wants one and the cluster
has GPUs), Ray's retries for lost workers, and - for jobs marked ``fresh`` - a worker that exits
after the job (``max_calls=1``), so a fine-tuning job's accelerator memory is released.
Arguments shared by several jobs (a target's embeddings, say) are put in the object store once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import StepstoneError
from .base import Engine, Job, Outcome

logger = logging.getLogger(__name__)


def import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise StepstoneError("the ray engine needs Ray: pip install 'stepstone[ray]'") from err
    return ray


class RayExecutor:
    """Jobs as Ray tasks.

    Args:
        address: cluster to join (``auto``, ``ray://host:10001``...); None starts or reuses a
            local Ray in this process (``$RAY_ADDRESS`` is honoured by Ray itself).
        max_retries: times Ray re-runs a task whose worker died (exceptions are not retried:
            a bad dataset fails the same way every time).
        cpus_per_job: CPUs each task asks for.
        max_in_flight: tasks submitted at once (default: the cluster's CPUs / cpus_per_job).
        num_cpus: CPUs of a local Ray started here (ignored when joining a cluster).
    """

    name = Engine.RAY

    def __init__(self, address: str | None = None, *, max_retries: int = 2,
                 cpus_per_job: float = 1.0, max_in_flight: int | None = None,
                 num_cpus: int | None = None) -> None:
        self.address = address
        self.max_retries = max_retries
        self.cpus_per_job = cpus_per_job
        self.max_in_flight = max_in_flight
        self.num_cpus = num_cpus

    def _ray(self) -> Any:
        ray = import_ray()
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                       "ignore_reinit_error": True}
            if self.address:
                options["address"] = self.address
            elif self.num_cpus and not os.environ.get("RAY_ADDRESS"):
                options["num_cpus"] = self.num_cpus
            ray.init(**options)
        return ray

    def run(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        ray = self._ray()
        resources = ray.cluster_resources()
        has_gpu = resources.get("GPU", 0) > 0
        limit = self.max_in_flight or max(1, int(resources.get("CPU", 1) // self.cpus_per_job))
        remote_fns: dict[Any, Any] = {}
        refs: dict[int, Any] = {}  # id(argument) -> ObjectRef, so shared arguments travel once
        kept: list[Any] = []  # keeps put arguments alive while their ids are in refs

        def put(value: Any) -> Any:
            if isinstance(value, (str, int, float, bool, type(None))):
                return value
            if id(value) not in refs:
                refs[id(value)] = ray.put(value)
                kept.append(value)
            return refs[id(value)]

        def submit(job: Job) -> Any:
            key = (job.fn, job.fresh)
            if key not in remote_fns:  # max_calls belongs to the remote function, not .options
                remote_fns[key] = ray.remote(max_calls=1)(job.fn) if job.fresh \
                    else ray.remote(job.fn)
            fn = remote_fns[key]
            options: dict[str, Any] = {"num_cpus": self.cpus_per_job,
                                       "num_gpus": 1 if job.gpu and has_gpu else 0,
                                       "max_retries": self.max_retries}
            args = [put(a) for a in job.args]
            kwargs = {k: put(v) for k, v in job.kwargs.items()}
            return fn.options(**options).remote(*args, **kwargs)

        pending = iter(jobs)
        in_flight: dict[Any, Job] = {}
        exhausted = False
        while True:
            while not exhausted and len(in_flight) < limit:
                job = next(pending, None)
                if job is None:
                    exhausted = True
                    break
                in_flight[submit(job)] = job
            if not in_flight:
                return
            done, _ = ray.wait(list(in_flight), num_returns=1)
            job = in_flight.pop(done[0])
            yield self._outcome(ray, job, done[0])

    @staticmethod
    def _outcome(ray: Any, job: Job, ref: Any) -> Outcome:
        try:
            return Outcome(job, result=ray.get(ref))
        except ray.exceptions.RayTaskError as err:  # the job raised: hand back its exception
            cause = err.as_instanceof_cause()
            return Outcome(job, error=cause)
        except ray.exceptions.RayError as err:  # worker lost after all retries, etc.
            return Outcome(job, error=StepstoneError(f"ray task {job.key} failed: {err}"))
