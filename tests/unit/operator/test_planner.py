"""The planner: deterministic, inside the budget, at least one driver and one executor core per job."""

from __future__ import annotations

import pytest
from k2_operator.planner import MIN_OVERHEAD_MIB, plan_pipeline, render_plan_table

from spark_jobs.contracts import JOB_NAMES

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("total", range(12, 17))
def test_plan_uses_exactly_the_budget_with_a_core_of_each_kind_per_job(total: int) -> None:
    plan = plan_pipeline(total, 2048)
    assert list(plan.jobs) == list(JOB_NAMES)
    assert plan.planned_cores == total
    for job_plan in plan.jobs.values():
        assert job_plan.driver.cores >= 1
        assert job_plan.executor_cores_total >= 1
        assert job_plan.executor_instances * job_plan.executor.cores == job_plan.executor_cores_total


@pytest.mark.parametrize("total", range(12, 17))
def test_silver_gets_at_least_gold_and_exchanges_are_sized_alike(total: int) -> None:
    plan = plan_pipeline(total, 2048)
    gold = plan["gold"].executor_cores_total
    for layer in ("bronze", "silver"):
        binance, kraken = plan[f"{layer}-binance"], plan[f"{layer}-kraken"]
        assert (binance.driver, binance.executor, binance.executor_instances) == (
            kraken.driver,
            kraken.executor,
            kraken.executor_instances,
        )
    assert plan["silver-binance"].executor_cores_total >= gold
    # Gold reads both exchanges; each exchange's Bronze + Silver together still out-size it.
    assert plan["bronze-binance"].executor_cores_total + plan["silver-binance"].executor_cores_total > gold


def test_the_documented_table_for_12_14_16() -> None:
    expected = {  # job -> (executor instances, cores per executor) for 12, 14, 16
        "bronze-binance": [(1, 1), (1, 2), (1, 2)],
        "silver-binance": [(1, 2), (1, 2), (3, 1)],
        "gold": [(1, 1), (1, 1), (1, 1)],
    }
    for index, total in enumerate((12, 14, 16)):
        plan = plan_pipeline(total, 2048)
        for job, shapes in expected.items():
            assert (plan[job].executor_instances, plan[job].executor.cores) == shapes[index], (total, job)


def test_plan_is_deterministic() -> None:
    assert plan_pipeline(14, 3072, 0.5) == plan_pipeline(14, 3072, 0.5)


def test_memory_is_cores_times_memory_per_core_split_into_heap_and_overhead() -> None:
    plan = plan_pipeline(14, 4096)
    executor = plan["silver-binance"].executor
    assert executor.cores == 2
    assert executor.memory_mib == 2 * 4096
    assert executor.overhead_mib == 2048
    assert executor.heap_mib == 6144
    driver = plan_pipeline(14, 1024)["gold"].driver
    assert driver.overhead_mib == MIN_OVERHEAD_MIB
    assert driver.memory == "1024Mi"


def test_cpu_request_ratio_scales_requests_not_spark_cores_or_limits() -> None:
    full = plan_pipeline(14, 2048, 1.0)["bronze-kraken"].executor
    quarter = plan_pipeline(14, 2048, 0.25)["bronze-kraken"].executor
    assert (full.cpu_request, full.cpu_limit) == ("2000m", "2")
    assert (quarter.cpu_request, quarter.cpu_limit, quarter.cores) == ("500m", "2", 2)


@pytest.mark.parametrize(
    ("total", "memory", "ratio"), [(9, 2048, 1.0), (14, 1, 1.0), (14, 2048, 0), (14, 2048, 1.5)]
)
def test_impossible_budgets_are_rejected(total: int, memory: int, ratio: float) -> None:
    with pytest.raises(ValueError):
        plan_pipeline(total, memory, ratio)


def test_rendered_table_lists_every_job_for_each_budget() -> None:
    table = render_plan_table()
    assert len(table.splitlines()) == 1 + 3 * len(JOB_NAMES)
    assert "16     silver-kraken   1       3 x 1 core" in table


def test_a_one_exchange_pipeline_plans_its_three_jobs_within_the_budget() -> None:
    plan = plan_pipeline(14, 2048, jobs=("gold", "silver-kraken", "bronze-kraken"))
    assert list(plan.jobs) == ["bronze-kraken", "silver-kraken", "gold"]
    assert plan.planned_cores == 14
    assert plan["silver-kraken"].executor_cores_total >= plan["gold"].executor_cores_total


def test_status_entry_of_a_job_plan_sums_its_kubernetes_cpu_requests() -> None:
    entry = plan_pipeline(16, 2048, 0.5)["silver-binance"].as_status()
    assert entry == {
        "driverCores": 1,
        "executorInstances": 3,
        "executorCores": 1,
        "driverMemory": "2048Mi",
        "executorMemory": "2048Mi",
        "cpuRequest": "2000m",
    }


def test_small_memory_per_core_keeps_half_the_pod_as_heap() -> None:
    driver = plan_pipeline(14, 512)["gold"].driver
    assert (driver.heap_mib, driver.overhead_mib, driver.memory) == (256, 256, "512Mi")
