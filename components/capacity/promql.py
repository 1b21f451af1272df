"""The predictive scaling rule in PromQL, and the Python forecast that mirrors it.

The cluster records `llmops:replica_demand` (busy replicas implied by the token rate) and, from
it, `llmops:replica_demand:forecast`, the demand one start-up time ahead; KEDA scales on the
forecast. The replay uses `forecast()` on its own demand series, so the policy that is replayed
is the policy that runs. A test evaluates the rendered rule in a real Prometheus and compares.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from string import Template

import numpy as np
import yaml

DAY_S = 86_400
WEEK_S = 7 * DAY_S
DEMAND_RECORD = "llmops:replica_demand"
FORECAST_RECORD = "llmops:replica_demand:forecast"
RULE_INTERVAL_S = 30
DEMAND_WINDOW_S = 60
"""Rate window of the demand record (rate(...[1m]); needs a scrape interval of 15 s or less)."""
RISE_WINDOW_S = 360
"""The HPA's scale-down stabilisation window (the production stack's 360 s): a rise is remembered
as long as a scale-down recommendation is."""


def _template(name: str) -> Template:
    text = resources.files("llmops.components.capacity").joinpath("rules", name).read_text(encoding="utf-8")
    # Comments document the file; the rendered expression goes into YAML without them.
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return Template(body.strip())


@dataclass(frozen=True)
class PredictiveRule:
    """Parameters of the predictive rule for one model."""

    lookahead_s: int
    """How far ahead the rule looks: the replica start-up time plus the demand series' rate window
    (a rate at T covers (T - window, T], so yesterday's rate at T - 1d + start-up + window is the
    demand in the window right after new replicas become ready)."""
    demand: str = DEMAND_RECORD
    """Selector of the demand series the forecast reads."""
    rise_window_s: int = RISE_WINDOW_S
    """How far back the rise term looks for the largest increase over a look-ahead interval."""
    step_s: int = RULE_INTERVAL_S
    """Sample spacing of the rise term's subquery: the rule group's evaluation interval."""

    def __post_init__(self) -> None:
        if not 0 < self.lookahead_s < DAY_S:
            raise ValueError(f"lookahead_s {self.lookahead_s} must be between 1 s and one day")
        if self.step_s <= 0 or self.step_s % 2 or self.rise_window_s % self.step_s:
            raise ValueError(
                f"rise_window_s {self.rise_window_s} must be a multiple of step_s {self.step_s}, "
                "an even number of seconds"
            )

    def expression(self) -> str:
        return _template("forecast.promql").substitute(
            demand=self.demand,
            ahead=self.lookahead_s,
            day=DAY_S,
            day_ahead=DAY_S - self.lookahead_s,
            week=WEEK_S,
            week_ahead=WEEK_S - self.lookahead_s,
            rise_range=self.rise_window_s + self.step_s // 2,
            step=self.step_s,
        )


def demand_expression(
    model: str, prefill_s_per_token: float, decode_s_per_token: float, window: str = "1m"
) -> str:
    """Busy replicas of `model` from vLLM's token counters and the throughput model's per-token costs."""
    return _template("demand.promql").substitute(
        model=model,
        window=window,
        prefill_s_per_token=f"{prefill_s_per_token:.9g}",
        decode_s_per_token=f"{decode_s_per_token:.9g}",
    )


def rule_group(
    model: str,
    prefill_s_per_token: float,
    decode_s_per_token: float,
    startup_s: int,
    *,
    window_s: int = DEMAND_WINDOW_S,
    interval_s: int = RULE_INTERVAL_S,
    rise_window_s: int = RISE_WINDOW_S,
) -> str:
    """A Prometheus rule file (YAML) recording demand and forecast for one model."""
    demand_selector = f'{DEMAND_RECORD}{{model_name="{model}"}}'
    group = {
        "groups": [
            {
                "name": f"llmops-predictive-{model.replace('/', '-').lower()}",
                "interval": f"{interval_s}s",
                "rules": [
                    {
                        "record": DEMAND_RECORD,
                        "expr": demand_expression(
                            model, prefill_s_per_token, decode_s_per_token, f"{window_s}s"
                        ),
                    },
                    {
                        "record": FORECAST_RECORD,
                        "expr": PredictiveRule(
                            startup_s + window_s,
                            demand=demand_selector,
                            rise_window_s=rise_window_s,
                            step_s=interval_s,
                        ).expression(),
                    },
                ],
            }
        ]
    }
    return yaml.dump(group, Dumper=_BlockDumper, sort_keys=False, width=200)


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings (the expressions) as literal blocks, so the file reads like PromQL."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_str)


def forecast(
    demand: np.ndarray,
    step_s: float,
    lookahead_s: float,
    rise_window_s: float = RISE_WINDOW_S,
    rise_step_s: float | None = None,
) -> np.ndarray:
    """The rule's value at every sample of a regularly sampled demand series.

    Offsets are rounded to whole steps (exact when the look-ahead and the step divide a day, as in the
    test and in the replay). A seasonal term whose look-back falls before the first sample is absent,
    as in Prometheus, where the selector returns nothing. The rise term takes the samples at the
    evaluation time and every `rise_step_s` (default: the series' step) before it, back to
    `rise_window_s`, as the subquery does when evaluation times are multiples of its step.
    """
    values = np.asarray(demand, dtype=np.float64)
    count = len(values)
    ahead = round(lookahead_s / step_s)
    result = values.copy()
    for season_s in (DAY_S, WEEK_S):
        back = round(season_s / step_s)
        if back >= count:
            continue
        seasonal = np.full(count, -np.inf)
        seasonal[back:] = values[back:] + values[ahead : count - back + ahead] - values[: count - back]
        result = np.maximum(result, seasonal)
    change = np.full(count, -np.inf)
    if 0 < ahead < count:
        change[ahead:] = values[ahead:] - values[: count - ahead]
    stride = max(1, round((rise_step_s or step_s) / step_s))
    rise = change.copy()
    for sample in range(1, round(rise_window_s / (stride * step_s)) + 1):
        back = sample * stride
        if back >= count:
            break
        rise[back:] = np.maximum(rise[back:], change[: count - back])
    # No rise yet (the first look-ahead of history) counts as none; a fall counts as none.
    return result + np.maximum(rise, 0.0)
