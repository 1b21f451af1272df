"""The shipped rules in a real Prometheus catch a dead and a hung replica (no timing asserted).

This is the benchmark's setup with one replica per fault: it proves the rule groups load
in Prometheus, that the labels the ServiceMonitor adds are the ones the alerts group by,
and that healthy replicas stay quiet. The detection times are `make bench`'s job.
"""

from __future__ import annotations

import pytest

from tests.bench import bench_failure_detection as bench
from tests.support.tools import require_tool


@pytest.mark.slow
def test_real_prometheus_fires_both_alerts_and_the_probe_fails() -> None:
    results = bench.run(trials=1, prometheus=require_tool("prometheus"), warmup_s=3, fault_spread_s=1)
    assert results["missed"] == {"dead_replica_alert": 0, "hung_engine_alert": 0, "hung_engine_probe": 0}
    assert results["false_alerts"] == []
    assert results["probe_failures_before_fault"] == 0
    for key in ("dead_replica_alert_s", "hung_engine_alert_s", "hung_engine_probe_s"):
        assert results[key]["n"] == 1
