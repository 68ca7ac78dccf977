"""The planner: one pipeline's core budget -> driver and executor sizes for each of the five jobs.

Pure and deterministic: the same budget always yields the same plan.

Split rule (every job first gets one driver core and one executor core, i.e. 10 cores for the five jobs;
the rest is handed out one core per exchange per round, Silver first because it decodes and validates
every record, then Bronze, which carries the raw input rate; a core that cannot be split evenly over the
exchanges goes to Gold, which reads both). A pipeline reading one exchange has three jobs and the same rule.

=====  ==============================  ==============================  =====================
cores  bronze-binance / bronze-kraken  silver-binance / silver-kraken  gold
=====  ==============================  ==============================  =====================
12     driver 1, executors 1 x 1 core  driver 1, executors 1 x 2 cores driver 1, 1 x 1 core
13     driver 1, executors 1 x 1 core  driver 1, executors 1 x 2 cores driver 1, 1 x 2 cores
14     driver 1, executors 1 x 2 cores driver 1, executors 1 x 2 cores driver 1, 1 x 1 core
15     driver 1, executors 1 x 2 cores driver 1, executors 1 x 2 cores driver 1, 1 x 2 cores
16     driver 1, executors 1 x 2 cores driver 1, executors 3 x 1 core  driver 1, 1 x 1 core
=====  ==============================  ==============================  =====================

Executors have 2 cores when a job's executor cores are even (fewer JVMs), else 1 core each (Spark
executors of one job are uniform).

Memory: a pod gets ``cores x memoryPerCore``. Of that, a quarter (at least 384 MiB, Spark's own floor,
but at most half the pod) is set as ``memoryOverhead`` (off-heap, Python workers), the rest is the JVM heap
(``spark.driver.memory`` / ``spark.executor.memory``). Spark asks Kubernetes for heap + overhead, so the
executor pods' memory request and limit are exactly ``cores x memoryPerCore``, like the driver's.

CPU: Spark cores stay whole (task slots); the Kubernetes request is ``cores x cpuRequestRatio`` in
millicores (so a plan sized for 14 cores can be tried on a smaller cluster with ratio 0.25), and the
limit is the Spark cores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from k2_shared.contracts import JOB_NAMES, JOBS

#: Each job needs one driver core and one executor core.
MIN_CORES_PER_JOB = 2
OVERHEAD_FRACTION = 0.25
MIN_OVERHEAD_MIB = 384
#: Layers served first when extra cores are handed out, one core per exchange per round.
EXTRA_CORE_PRIORITY = ("silver", "bronze")


@dataclass(frozen=True)
class PodSize:
    """One Spark JVM's pod: whole Spark cores, heap + overhead = cores x memory per core."""

    cores: int
    heap_mib: int
    overhead_mib: int
    cpu_request_millicores: int

    @property
    def memory_mib(self) -> int:
        return self.heap_mib + self.overhead_mib

    @property
    def cpu_request(self) -> str:
        return f"{self.cpu_request_millicores}m"

    @property
    def cpu_limit(self) -> str:
        return str(self.cores)

    @property
    def memory(self) -> str:
        return f"{self.memory_mib}Mi"


@dataclass(frozen=True)
class JobPlan:
    job: str
    driver: PodSize
    executor: PodSize
    executor_instances: int

    @property
    def executor_cores_total(self) -> int:
        return self.executor.cores * self.executor_instances

    @property
    def shuffle_partitions(self) -> int:
        """spark.sql.shuffle.partitions: two tasks per executor core, so a slow task does not idle the
        others. Gold's state store keeps the count of its first run (it is in the checkpoint)."""
        return max(2, 2 * self.executor_cores_total)

    @property
    def total_cores(self) -> int:
        return self.driver.cores + self.executor_cores_total

    @property
    def cpu_request_millicores(self) -> int:
        """What the job asks Kubernetes for: its driver pod plus all its executor pods."""
        return (
            self.driver.cpu_request_millicores
            + self.executor_instances * self.executor.cpu_request_millicores
        )

    def as_status(self) -> dict[str, int | str]:
        """The plan entry written to the CR's status (and shown by `kubectl describe`)."""
        return {
            "driverCores": self.driver.cores,
            "executorInstances": self.executor_instances,
            "executorCores": self.executor.cores,
            "driverMemory": self.driver.memory,
            "executorMemory": self.executor.memory,
            "cpuRequest": f"{self.cpu_request_millicores}m",
        }


@dataclass(frozen=True)
class PipelinePlan:
    total_cores: int
    jobs: dict[str, JobPlan]

    def __getitem__(self, job: str) -> JobPlan:
        return self.jobs[job]

    @property
    def planned_cores(self) -> int:
        return sum(plan.total_cores for plan in self.jobs.values())


def plan_pipeline(
    total_cores: int,
    memory_per_core_mib: int,
    cpu_request_ratio: float = 1.0,
    jobs: tuple[str, ...] = JOB_NAMES,
) -> PipelinePlan:
    """Split ``total_cores`` over ``jobs`` (all five unless the pipeline reads one exchange only; see
    the module docstring for the rule and table)."""
    unknown = sorted(set(jobs) - set(JOB_NAMES))
    if unknown or not jobs:
        raise ValueError(f"jobs must be among {JOB_NAMES}, got {jobs}")
    if total_cores < MIN_CORES_PER_JOB * len(jobs):
        raise ValueError(f"totalCores must be at least {MIN_CORES_PER_JOB * len(jobs)}, got {total_cores}")
    if not 0 < cpu_request_ratio <= 1:
        raise ValueError(f"cpuRequestRatio must be in (0, 1], got {cpu_request_ratio}")
    if memory_per_core_mib < 2:
        raise ValueError(f"memoryPerCore must be at least 2 MiB, got {memory_per_core_mib}")
    ordered = tuple(job for job in JOB_NAMES if job in jobs)
    executor_cores = _split_executor_cores(total_cores, ordered)
    plans = {
        job: _job_plan(job, executor_cores[job], memory_per_core_mib, cpu_request_ratio) for job in ordered
    }
    return PipelinePlan(total_cores=total_cores, jobs=plans)


def _split_executor_cores(total_cores: int, jobs: tuple[str, ...]) -> dict[str, int]:
    cores = {job: 1 for job in jobs}  # executor cores; each job's driver core is implicit
    extra = total_cores - MIN_CORES_PER_JOB * len(jobs)
    layer_jobs = {
        layer: [job for job, job_layer, _ in JOBS if job_layer == layer and job in jobs]
        for layer in EXTRA_CORE_PRIORITY
    }
    round_index = 0
    while True:
        layer = EXTRA_CORE_PRIORITY[round_index % len(EXTRA_CORE_PRIORITY)]
        if extra < len(layer_jobs[layer]) or not layer_jobs[layer]:
            break
        for job in layer_jobs[layer]:
            cores[job] += 1
            extra -= 1
        round_index += 1
    cores[_gold_job()] += extra  # what cannot be split evenly over the exchanges
    return cores


def _gold_job() -> str:
    return next(job for job, layer, _exchange in JOBS if layer == "gold")


def _job_plan(job: str, executor_cores: int, memory_per_core_mib: int, ratio: float) -> JobPlan:
    cores_per_executor = 2 if executor_cores % 2 == 0 else 1
    return JobPlan(
        job=job,
        driver=_pod_size(1, memory_per_core_mib, ratio),
        executor=_pod_size(cores_per_executor, memory_per_core_mib, ratio),
        executor_instances=executor_cores // cores_per_executor,
    )


def _pod_size(cores: int, memory_per_core_mib: int, ratio: float) -> PodSize:
    memory_mib = cores * memory_per_core_mib
    # Spark's 384 MiB floor, but never more than half the pod (tiny pods still get a heap).
    overhead_mib = max(min(MIN_OVERHEAD_MIB, memory_mib // 2), math.ceil(memory_mib * OVERHEAD_FRACTION))
    return PodSize(
        cores=cores,
        heap_mib=memory_mib - overhead_mib,
        overhead_mib=overhead_mib,
        cpu_request_millicores=max(1, round(cores * ratio * 1000)),
    )


def render_plan_table(memory_per_core_mib: int = 2048, budgets: tuple[int, ...] = (12, 14, 16)) -> str:
    """A plain-text table of the plans for ``budgets`` (used by the README and `python -m`)."""
    lines = ["cores  job             driver  executors        executor pod     driver pod"]
    for budget in budgets:
        plan = plan_pipeline(budget, memory_per_core_mib)
        for job, job_plan in plan.jobs.items():
            executors = f"{job_plan.executor_instances} x {job_plan.executor.cores} core"
            lines.append(
                f"{budget:<6} {job:<15} {job_plan.driver.cores:<7} {executors:<16} "
                f"{job_plan.executor.memory:<16} {job_plan.driver.memory}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_plan_table())
