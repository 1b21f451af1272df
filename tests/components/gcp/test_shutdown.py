"""Graceful node shutdown fits inside GCE's 30-second preemption notice."""

from __future__ import annotations

import pytest
from llmops.components.gcp.shutdown import PREEMPTION_NOTICE_S, graceful_shutdown_kubelet_args


def test_default_periods_fit_the_notice_with_room_for_systemd() -> None:
    args = graceful_shutdown_kubelet_args()
    assert args == ["shutdown-grace-period=25s", "shutdown-grace-period-critical-pods=5s"]
    total = int(args[0].split("=")[1].removesuffix("s"))
    assert total < PREEMPTION_NOTICE_S


@pytest.mark.parametrize(("grace", "critical"), [(31, 5), (20, 20), (20, 0)])
def test_periods_outside_the_notice_are_refused(grace: int, critical: int) -> None:
    with pytest.raises(ValueError, match="must satisfy 0 < critical < all <= 30"):
        graceful_shutdown_kubelet_args(grace, critical)
