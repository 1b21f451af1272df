"""`llmops replay`, `llmops capacity` and `llmops prices refresh`, added to the CLI by `register(app)`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from llmops.components.capacity.catalog import CatalogError, write_prices
from llmops.components.capacity.models import get_model, model_fit
from llmops.components.capacity.replay import (
    DEFAULT_MAX_MODEL_LEN,
    POLICIES,
    TRACE_START_EPOCH_S,
    ReplayResult,
    ReplaySettings,
    plot,
    replay,
)
from llmops.components.capacity.throughput import Slo
from llmops.components.capacity.traces import FORMATS, TraceFormatError, read_trace

if TYPE_CHECKING:
    from llmops.components.capacity.failover import PoolLoss, PoolLossResult
    from llmops.components.capacity.traces import Trace
    from llmops.infra.replay_stack import StackModel

EXIT_BAD_INPUT = 2


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


def _table(result: ReplayResult) -> str:
    header = f"{'policy':<22}{'GPU-hours':>12}{'cost USD':>12}{'SLO all':>10}{'feasible':>10}{'peak':>8}"
    lines = [header, "-" * len(header)]
    for name, policy in result.policies.items():
        label = f"{name} (naive)" if name == "keda-waiting" else name
        lines.append(
            f"{label:<22}{policy.gpu_hours:>12.2f}{policy.cost_usd:>12.2f}"
            f"{policy.slo_attainment:>9.2%} {policy.slo_attainment_feasible:>9.2%}{policy.peak_replicas:>8d}"
        )
    lines.append(
        f"infeasible (prefill alone over the TTFT SLO): {result.infeasible_share:.2%} of requests; "
        "'feasible' scores the rest"
    )
    parameters = result.parameters()
    for name in result.policies:
        values = ", ".join(f"{key}={value}" for key, value in parameters[name].items())
        lines.append(f"  {name}: {values}")
    return "\n".join(lines)


def replay_command(
    trace: Annotated[Path, typer.Option("--trace", help="Request trace or per-minute aggregate file.")],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="Hugging Face model id from the built-in catalog; with --stack, the name of one of "
            "the stack's models.",
        ),
    ],
    gpu: Annotated[
        str | None,
        typer.Option("--gpu", help="GPU type: L4, A10G, A100-80GB, H100, ... (with --stack: the model's)."),
    ] = None,
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack",
            "-s",
            help="Replay the model as stacks/Pulumi.<stack>.yaml deploys it: its GPU, parallelism, "
            "start-up time and ScaledObject (the deployed policy).",
        ),
    ] = None,
    trace_format: Annotated[
        str, typer.Option("--format", help=f"Trace format: {', '.join(FORMATS)}.")
    ] = "auto",
    slo_ttft_s: Annotated[float, typer.Option("--slo-ttft-s", help="TTFT SLO: queue wait + prefill.")] = 2.0,
    slo_itl_s: Annotated[float, typer.Option("--slo-itl-s", help="Inter-token latency SLO.")] = 0.1,
    startup_s: Annotated[
        float | None,
        typer.Option(
            "--startup-s",
            help="Seconds until a new replica serves; default: with --stack the model's as deployed "
            "(startupS, else the estimate), otherwise the estimate for --weights-from and --pre-pulled "
            "(docs/capacity.md, 'Start-up time').",
        ),
    ] = None,
    weights_from: Annotated[
        str,
        typer.Option(
            "--weights-from", help="Where replicas read weights: hub, efs-elastic, efs-bursting, nfs."
        ),
    ] = "hub",
    pre_pulled: Annotated[
        bool, typer.Option("--pre-pulled/--cold-node", help="The serving image is already on the node.")
    ] = False,
    policy: Annotated[str, typer.Option("--policy", help=f"One of {', '.join(POLICIES)}, or all.")] = "all",
    tensor_parallel: Annotated[
        int | None, typer.Option("--tp", help="GPUs per replica (tensor parallel); default: 1.")
    ] = None,
    max_model_len: Annotated[
        int | None, typer.Option("--max-model-len", help="vLLM --max-model-len; default: 8192.")
    ] = None,
    target: Annotated[
        float | None,
        typer.Option(
            "--target",
            help="The deployed policy's target utilisation, in (0, 1]; default: the stack's (0.8 without "
            "--stack). Replay a few to tune it.",
        ),
    ] = None,
    trace_start: Annotated[
        str | None,
        typer.Option(
            "--trace-start",
            help="Wall-clock time of the trace's start, ISO 8601 (for cron windows); default: "
            "2024-01-01T00:00:00Z, a Monday.",
        ),
    ] = None,
    usd_per_gpu_hour: Annotated[
        float | None,
        typer.Option("--usd-per-gpu-hour", help="Price; default: the catalog's cheapest on-demand GPU-hour."),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the results as JSON here.")] = None,
    plot_out: Annotated[
        Path | None, typer.Option("--plot", help="Draw load and replicas to this PNG.")
    ] = None,
    lose_pool: Annotated[
        list[str] | None,
        typer.Option(
            "--lose-pool",
            help="With --stack: lose pool NAME at time T, NAME@T[+DURATION] (T: 6h, seconds, or an ISO "
            "8601 time; without a duration the pool stays lost); repeat for more. Replicas run on the "
            "model's pools by preference and size; the policies are replayed again through the loss.",
        ),
    ] = None,
) -> None:
    """Replay a request trace through autoscaling policies: GPU-hours, cost, SLO attainment."""
    if policy != "all" and policy not in POLICIES:
        raise _fail(f"--policy {policy!r} is not one of {', '.join(POLICIES)}, all")
    if trace_format not in FORMATS:
        raise _fail(f"--format {trace_format!r} is not one of {', '.join(FORMATS)}")
    for flag, value in (("--slo-ttft-s", slo_ttft_s), ("--slo-itl-s", slo_itl_s)):
        if value <= 0:
            raise _fail(f"{flag} {value} must be positive")
    if target is not None and not 0 < target <= 1:
        raise _fail(f"--target {target} must be in (0, 1], e.g. 0.7")
    if startup_s is not None and startup_s < 0:
        raise _fail(f"--startup-s {startup_s} must be 0 or more")
    start_epoch_s = _trace_start(trace_start)
    losses = _losses(lose_pool or [], start_epoch_s, stack, policy)
    from_stack = None
    if stack is not None:
        for flag, value in (("--gpu", gpu), ("--tp", tensor_parallel), ("--max-model-len", max_model_len)):
            if value is not None:
                raise _fail(f"{flag} {value}: with --stack it comes from the stack's model; leave it out")
        from_stack = _stack_model(stack, model)
        model, gpu = from_stack.model.source, from_stack.gpu
        tensor_parallel = from_stack.model.tensor_parallel_size
        max_model_len = from_stack.model.max_model_len
    if gpu is None:
        raise _fail("--gpu is required without --stack (e.g. --gpu L4)")
    tensor_parallel = 1 if tensor_parallel is None else tensor_parallel
    max_model_len = max_model_len or DEFAULT_MAX_MODEL_LEN
    from llmops.components.capacity.startup import WeightSource, model_estimate

    sources = {source.value: source for source in WeightSource}
    if weights_from not in sources:
        raise _fail(f"--weights-from {weights_from!r} is not one of {', '.join(sources)}")
    try:
        get_model(model)
        verdict = model_fit(model, gpu, tensor_parallel, max_model_len=max_model_len)
    except CatalogError as exc:
        raise _fail(str(exc)) from None
    if not verdict.fits:
        raise _fail(f"{verdict.message}; pass --tp or --max-model-len")
    try:
        loaded = read_trace(trace, trace_format)
    except TraceFormatError as exc:
        raise _fail(str(exc)) from None
    common: dict[str, Any] = {
        "slo": Slo(ttft_s=slo_ttft_s, itl_s=slo_itl_s),
        "usd_per_gpu_hour": usd_per_gpu_hour,
        "trace_start_epoch_s": start_epoch_s,
    }
    if from_stack is not None:
        from llmops.infra.replay_stack import replay_settings

        settings = replay_settings(
            from_stack,
            model_id=verdict.model_id,
            **common,
            **({} if startup_s is None else {"startup_s": startup_s}),
        )
    else:
        if startup_s is None:
            estimated = model_estimate(verdict.model_id, source=sources[weights_from], pre_pulled=pre_pulled)
            startup_s = round(estimated.total_s)
            typer.echo(
                f"start-up: estimated {startup_s} s (image pull {estimated.image_pull_s:.0f} s, weights "
                f"{estimated.weight_load_s:.0f} s from {weights_from}, "
                f"engine {estimated.engine_start_s:.0f} s); set --startup-s to override"
            )
        settings = ReplaySettings(
            model_id=verdict.model_id,
            gpu=verdict.gpu,
            tensor_parallel=tensor_parallel,
            startup_s=startup_s,
            max_model_len=max_model_len,
            **common,
        )
    if target is not None:
        settings = _with_target(settings, target)
    chosen = POLICIES if policy == "all" else (policy,)
    if losses:
        assert from_stack is not None
        _replay_losses(loaded, settings, chosen, from_stack, losses, json_out, plot_out)
        return
    result = replay(loaded, settings, chosen)
    typer.echo(_headline(loaded, result))
    typer.echo(_table(result))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    if plot_out is not None:
        plot_out.parent.mkdir(parents=True, exist_ok=True)
        plot(result, str(plot_out))


def _losses(texts: list[str], start_epoch_s: float, stack: str | None, policy: str) -> list[PoolLoss]:
    from llmops.components.capacity.failover import PoolLossError, parse_loss

    if texts and policy == "oracle":
        raise _fail(
            f"--lose-pool {texts[0]}: the oracle is not replayed through a loss (its foresight would "
            "include it). Fix: pick another --policy, or all"
        )
    if texts and stack is None:
        raise _fail(
            f"--lose-pool {texts[0]}: needs --stack, where the model's pools and their sizes come from. "
            "Fix: add --stack <stack>"
        )
    try:
        return [parse_loss(text, start_epoch_s) for text in texts]
    except PoolLossError as exc:
        raise _fail(str(exc)) from None


def _replay_losses(
    loaded: Trace,
    settings: ReplaySettings,
    chosen: tuple[str, ...],
    from_stack: StackModel,
    losses: list[PoolLoss],
    json_out: Path | None,
    plot_out: Path | None,
) -> None:
    """The usual table, then each policy but the oracle through the losses."""
    from llmops.components.capacity.failover import PoolLossError, check_losses, replay_pool_loss

    if from_stack.pools is None:
        raise _fail(
            f"--lose-pool: the GPUs per machine of {from_stack.model.name!r}'s pools are not in the capacity "
            "catalog, so their sizes in replicas are unknown. Fix: use instance types the catalog lists"
        )
    problems = check_losses(losses, from_stack.pools, loaded.span_s)
    if problems:
        raise _fail("; ".join(problems))
    try:
        outcome = replay_pool_loss(loaded, settings, from_stack.pools, losses, chosen)
    except PoolLossError as exc:
        raise _fail(str(exc)) from None
    result = outcome.baseline
    typer.echo(_headline(loaded, result))
    typer.echo(_table(result))
    typer.echo(_loss_table(outcome))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(outcome.to_json(), indent=2) + "\n")
    if plot_out is not None:
        import dataclasses

        plot_out.parent.mkdir(parents=True, exist_ok=True)
        # The replicas through the loss, where the drop and the recovery show.
        lossy = {f"{name}, pool lost": value.result for name, value in outcome.policies.items()}
        plot(dataclasses.replace(result, policies=lossy), str(plot_out))


def _headline(loaded: Trace, result: ReplayResult) -> str:
    settings = result.settings
    return (
        f"{loaded.request_count:,.0f} requests over {loaded.span_s / 3600:.2f} h; {settings.model_id} on "
        f"{settings.gpu} x{settings.tensor_parallel}: {result.capacity.requests_per_s:.2f} req/s per "
        f"replica, ${result.usd_per_gpu_hour:.3f}/GPU-hour"
    )


def _loss_table(outcome: PoolLossResult) -> str:
    bin_s = outcome.baseline.bin_s
    pools = ", ".join(f"{p.name} ({p.replicas} replicas)" for p in outcome.pools)
    lines = [
        "",
        f"through the pool loss; pools in preference order: {pools}; lost pods replaced after "
        f"{outcome.replace_after_s:g} s, then one start-up time:",
    ]
    for loss, (first, end) in zip(outcome.losses, outcome.windows, strict=True):
        lasting = "to the end" if loss.duration_s is None else f"for {loss.duration_s / 3600:.2f} h"
        lines.append(
            f"  {loss.pool} lost at {loss.at_s / 3600:.2f} h {lasting} "
            f"(scored bins {first * bin_s / 3600:.2f} h to {end * bin_s / 3600:.2f} h)"
        )
    header = (
        f"{'policy':<22}{'GPU-hours':>12}{'cost USD':>12}{'SLO all':>10}{'feasible':>10}"
        f"{'in loss':>10}{'feasible':>10}{'peak':>8}"
    )
    lines += [header, "-" * len(header)]
    for name, value in outcome.policies.items():
        policy = value.result
        label = f"{name} (naive)" if name == "keda-waiting" else name
        lines.append(
            f"{label:<22}{policy.gpu_hours:>12.2f}{policy.cost_usd:>12.2f}"
            f"{policy.slo_attainment:>9.2%} {policy.slo_attainment_feasible:>9.2%}"
            f"{value.window_attainment:>9.2%} {value.window_attainment_feasible:>9.2%}"
            f"{policy.peak_replicas:>8d}"
        )
    lines.append(
        "'in loss': the requests that arrive while a pool is lost; the oracle is not replayed through it"
    )
    return "\n".join(lines)


def _with_target(settings: ReplaySettings, target: float) -> ReplaySettings:
    """The deployed ScaledObject with another target (the config defaults' without --stack)."""
    import dataclasses

    if settings.deployed is not None:
        return dataclasses.replace(settings, deployed=dataclasses.replace(settings.deployed, target=target))
    # Without --stack the replay resolves the rest of the default spec.
    return dataclasses.replace(settings, deployed_target=target)


def _trace_start(text: str | None) -> float:
    if text is None:
        return TRACE_START_EPOCH_S
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _fail(
            f"--trace-start {text!r} is not an ISO 8601 time; write e.g. 2024-05-13T08:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _stack_model(stack: str, name: str) -> StackModel:
    from llmops.infra.cli import find_project_dir
    from llmops.infra.config import ConfigError, StackNotFoundError, load_stack_file
    from llmops.infra.replay_stack import StackModelError, stack_model

    try:
        config = load_stack_file(find_project_dir() / "stacks", stack)
        return stack_model(config, name)
    except (StackNotFoundError, ConfigError, FileNotFoundError, StackModelError) as exc:
        raise _fail(str(exc)) from None


def capacity_command(
    model: Annotated[str, typer.Option("--model", help="Hugging Face model id from the built-in catalog.")],
    gpu: Annotated[str, typer.Option("--gpu", help="GPU type: L4, A10G, A100-80GB, H100, H200, ...")],
    tensor_parallel: Annotated[int, typer.Option("--tp", help="GPUs per replica (tensor parallel).")] = 1,
    dtype: Annotated[str, typer.Option("--dtype", help="auto, bfloat16, float16, float32.")] = "auto",
    quantization: Annotated[
        str | None,
        typer.Option("--quantization", help="fp8, awq, gptq, awq_marlin, gptq_marlin, bitsandbytes."),
    ] = None,
    kv_cache_dtype: Annotated[
        str, typer.Option("--kv-cache-dtype", help="auto, bfloat16, float16, fp8, fp8_e4m3, fp8_e5m2.")
    ] = "auto",
    input_tokens: Annotated[float, typer.Option("--input-tokens", help="Mean prompt tokens.")] = 1000,
    output_tokens: Annotated[float, typer.Option("--output-tokens", help="Mean generated tokens.")] = 200,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency", help="Concurrent requests; default: the largest batch the ITL SLO allows."
        ),
    ] = None,
    max_model_len: Annotated[
        int | None, typer.Option("--max-model-len", help="vLLM --max-model-len; default: the model's own.")
    ] = None,
    slo_itl_s: Annotated[float, typer.Option("--slo-itl-s", help="Inter-token latency SLO.")] = 0.1,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Fit and throughput of one replica: weights, KV cache, max context; tokens/s, requests/s, TTFT, ITL."""
    from llmops.components.capacity.capacity_report import capacity_report
    from llmops.components.capacity.precision import DTYPES, KV_CACHE_DTYPES, QUANTIZATIONS

    for flag, value, allowed in (
        ("--dtype", dtype, DTYPES),
        ("--quantization", quantization, QUANTIZATIONS),
        ("--kv-cache-dtype", kv_cache_dtype, KV_CACHE_DTYPES),
    ):
        if value is not None and value not in allowed:
            raise _fail(f"{flag} {value!r} is not one of {', '.join(allowed)}")

    for flag, value in (
        ("--input-tokens", input_tokens),
        ("--output-tokens", output_tokens),
        ("--slo-itl-s", slo_itl_s),
    ):
        if value <= 0:
            raise _fail(f"{flag} {value:g} must be positive")
    if concurrency is not None and concurrency < 1:
        raise _fail(f"--concurrency {concurrency} must be at least 1")
    try:
        report = capacity_report(
            model,
            gpu,
            tensor_parallel,
            dtype=dtype,
            quantization=quantization,
            kv_cache_dtype=kv_cache_dtype,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            concurrency=concurrency,
            max_model_len=max_model_len,
            slo=Slo(itl_s=slo_itl_s),
        )
    except CatalogError as exc:
        raise _fail(str(exc)) from None
    if json_out:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(report["message"])
    if report["fits"]:
        throughput = cast(dict[str, float], report["throughput"])
        latency = cast(dict[str, float], report["latency"])
        typer.echo(
            f"at concurrency {report['concurrency']}: "
            f"{throughput['output_tokens_per_s']:,.0f} output tokens/s, "
            f"{throughput['requests_per_s']:.2f} requests/s, TTFT {latency['ttft_s'] * 1000:.0f} ms, "
            f"ITL {latency['itl_s'] * 1000:.1f} ms"
        )


def prices_refresh(
    cloud: Annotated[
        str, typer.Option("--cloud", help="Cloud to query (one with a kit: see components/cloud.py).")
    ],
    regions: Annotated[
        list[str] | None, typer.Option("--region", help="Region to refresh; repeat for more.")
    ] = None,
    instance_types: Annotated[
        list[str] | None,
        typer.Option("--instance-type", help="Instance type; default: every type the catalog prices there."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Where to write the refreshed rows (catalog CSV format)."),
    ] = None,
) -> None:
    """Fetch current spot prices from the cloud's API into a catalog-format CSV."""
    from llmops.components.cloud import kit, registered_clouds

    known = [c.value for c in registered_clouds()]
    if cloud not in known:
        raise _fail(
            f"--cloud {cloud!r}: only {', '.join(known)} can be refreshed from its API; other clouds' "
            "prices come from the shipped catalog (components/capacity/data/prices.csv)"
        )
    lookup = kit(cloud)
    output = output or Path(f"build/prices/{cloud}.csv")
    if not lookup.credentials_available():
        raise _fail(f"no {lookup.display_name} credentials found; {lookup.credentials_hint}, and retry")
    try:
        rows = lookup.refresh_prices(regions or [lookup.default_region], instance_types)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(write_prices(rows))
    for row in rows:
        spot = "-" if row.spot_usd_per_h is None else f"{row.spot_usd_per_h:.4f}"
        on_demand = "-" if row.on_demand_usd_per_h is None else f"{row.on_demand_usd_per_h:.4f}"
        typer.echo(f"{row.region:<16}{row.instance_type:<20}{on_demand:>10}{spot:>10}")
    typer.echo(f"wrote {len(rows)} rows to {output}")


def register(app: typer.Typer) -> None:
    """Add `replay`, `capacity` and the `prices` group (with `refresh`) to the main `llmops` app."""
    app.command("replay")(replay_command)
    app.command("capacity")(capacity_command)
    prices = typer.Typer(help="GPU price catalog.", no_args_is_help=True)
    prices.command("refresh")(prices_refresh)
    app.add_typer(prices, name="prices")
