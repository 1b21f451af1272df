"""`llmops replay` and `llmops prices refresh`, added to the main CLI by `register(app)`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from components.capacity.catalog import CatalogError, write_prices
from components.capacity.models import get_model, model_fit
from components.capacity.replay import POLICIES, ReplayResult, ReplaySettings, plot, replay
from components.capacity.throughput import Slo
from components.capacity.traces import FORMATS, TraceFormatError, read_trace

EXIT_BAD_INPUT = 2


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


def _table(result: ReplayResult) -> str:
    header = f"{'policy':<12}{'GPU-hours':>12}{'cost USD':>12}{'SLO met':>10}{'peak':>8}"
    lines = [header, "-" * len(header)]
    for name, policy in result.policies.items():
        lines.append(
            f"{name:<12}{policy.gpu_hours:>12.2f}{policy.cost_usd:>12.2f}"
            f"{policy.slo_attainment:>9.2%}{policy.peak_replicas:>8d}"
        )
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


def prices_refresh(
    cloud: Annotated[str, typer.Option("--cloud", help="Cloud to query (aws, gcp).")],
    regions: Annotated[
        list[str] | None, typer.Option("--region", help="Region to refresh; repeat for more.")
    ] = None,
    instance_types: Annotated[
        list[str] | None,
        typer.Option("--instance-type", help="Instance type; default: every type the catalog prices there."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", help="Where to write the refreshed rows; default: build/prices/<cloud>.csv."
        ),
    ] = None,
) -> None:
    """Fetch current spot prices from the cloud's API into a catalog-format CSV."""
    output = output or Path(f"build/prices/{cloud}.csv")
    if cloud == "gcp":
        from infra.cli_gcp_prices import refresh_gcp

        refresh_gcp(regions, instance_types, output, _fail)
        return
    if cloud != "aws":
        raise _fail(
            f"--cloud {cloud!r}: only aws and gcp can be refreshed from their APIs; azure prices come from "
            "the shipped catalog (components/capacity/data/prices.csv)"
        )
    from components.capacity.aws_lookup import credentials_available, refresh_prices

    if not credentials_available():
        raise _fail(
            "no AWS credentials found; configure them (aws configure, AWS_PROFILE or "
            "AWS_ACCESS_KEY_ID) and retry"
        )
    try:
        rows = refresh_prices(regions or ["us-east-1"], instance_types)
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
    """Add `replay` and the `prices` group (with `refresh`) to the main `llmops` app."""
    app.command("replay")(replay_command)
    prices = typer.Typer(help="GPU price catalog.", no_args_is_help=True)
    prices.command("refresh")(prices_refresh)
    app.add_typer(prices, name="prices")
