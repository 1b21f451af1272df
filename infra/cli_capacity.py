"""`llmops replay`, `llmops capacity` and `llmops prices refresh`, added to the CLI by `register(app)`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, cast

import typer

from components.capacity.catalog import CatalogError, write_prices
from components.capacity.models import get_model, model_fit
from components.capacity.replay import (
    POLICIES,
    ReplayResult,
    ReplaySettings,
    plot,
    policy_parameters,
    replay,
)
from components.capacity.throughput import Slo
from components.capacity.traces import FORMATS, TraceFormatError, read_trace

EXIT_BAD_INPUT = 2


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


def _table(result: ReplayResult) -> str:
    header = f"{'policy':<14}{'GPU-hours':>12}{'cost USD':>12}{'SLO all':>10}{'feasible':>10}{'peak':>8}"
    lines = [header, "-" * len(header)]
    for name, policy in result.policies.items():
        label = f"{name} (naive)" if name == "keda-waiting" else name
        lines.append(
            f"{label:<14}{policy.gpu_hours:>12.2f}{policy.cost_usd:>12.2f}"
            f"{policy.slo_attainment:>9.2%} {policy.slo_attainment_feasible:>9.2%}{policy.peak_replicas:>8d}"
        )
    lines.append(
        f"infeasible (prefill alone over the TTFT SLO): {result.infeasible_share:.2%} of requests; "
        "'feasible' scores the rest"
    )
    parameters = policy_parameters(result.settings)
    for name in result.policies:
        values = ", ".join(f"{key}={value}" for key, value in parameters[name].items())
        lines.append(f"  {name}: {values}")
    return "\n".join(lines)


def replay_command(
    trace: Annotated[Path, typer.Option("--trace", help="Request trace or per-minute aggregate file.")],
    model: Annotated[str, typer.Option("--model", help="Hugging Face model id from the built-in catalog.")],
    gpu: Annotated[str, typer.Option("--gpu", help="GPU type: L4, A10G, A100-80GB, H100, ...")],
    trace_format: Annotated[
        str, typer.Option("--format", help=f"Trace format: {', '.join(FORMATS)}.")
    ] = "auto",
    slo_ttft_s: Annotated[float, typer.Option("--slo-ttft-s", help="TTFT SLO: queue wait + prefill.")] = 2.0,
    slo_itl_s: Annotated[float, typer.Option("--slo-itl-s", help="Inter-token latency SLO.")] = 0.1,
    startup_s: Annotated[
        float, typer.Option("--startup-s", help="Seconds until a new replica serves.")
    ] = 180.0,
    policy: Annotated[str, typer.Option("--policy", help=f"One of {', '.join(POLICIES)}, or all.")] = "all",
    tensor_parallel: Annotated[int, typer.Option("--tp", help="GPUs per replica (tensor parallel).")] = 1,
    max_model_len: Annotated[int, typer.Option("--max-model-len", help="vLLM --max-model-len.")] = 8192,
    usd_per_gpu_hour: Annotated[
        float | None,
        typer.Option("--usd-per-gpu-hour", help="Price; default: the catalog's cheapest on-demand GPU-hour."),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the results as JSON here.")] = None,
    plot_out: Annotated[
        Path | None, typer.Option("--plot", help="Draw load and replicas to this PNG.")
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
    if startup_s < 0:
        raise _fail(f"--startup-s {startup_s} must be 0 or more")
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
    settings = ReplaySettings(
        model_id=verdict.model_id,
        gpu=verdict.gpu,
        tensor_parallel=tensor_parallel,
        slo=Slo(ttft_s=slo_ttft_s, itl_s=slo_itl_s),
        startup_s=startup_s,
        max_model_len=max_model_len,
        usd_per_gpu_hour=usd_per_gpu_hour,
    )
    chosen = POLICIES if policy == "all" else (policy,)
    result = replay(loaded, settings, chosen)
    typer.echo(
        f"{loaded.request_count:,.0f} requests over {loaded.span_s / 3600:.2f} h; {verdict.model_id} on "
        f"{verdict.gpu} x{tensor_parallel}: {result.capacity.requests_per_s:.2f} req/s per replica, "
        f"${result.usd_per_gpu_hour:.3f}/GPU-hour"
    )
    typer.echo(_table(result))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    if plot_out is not None:
        plot_out.parent.mkdir(parents=True, exist_ok=True)
        plot(result, str(plot_out))


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
    from components.capacity.capacity_report import capacity_report
    from components.capacity.precision import DTYPES, KV_CACHE_DTYPES, QUANTIZATIONS

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
    from components.cloud import kit, registered_clouds

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
