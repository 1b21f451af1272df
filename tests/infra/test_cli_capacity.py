"""`llmops replay` and `llmops prices refresh` through a Typer app built the way infra.cli builds it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from llmops.infra import cli_capacity
from typer.testing import CliRunner

from tests.conftest import require_shared

MODEL = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.fixture
def app() -> typer.Typer:
    application = typer.Typer()

    @application.command("version")
    def version() -> None:  # a second command, as the real app has, so subcommands keep their names
        typer.echo("0")

    cli_capacity.register(application)
    return application


def run(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def generic_trace(tmp_path: Path) -> Path:
    rows = ["timestamp,input_tokens,output_tokens"]
    rows += [f"{i * 0.05:.2f},{300 + i % 7 * 50},{80 + i % 5 * 20}" for i in range(2000)]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_replay_writes_the_json_shape_and_a_plot(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    png = tmp_path / "r.png"
    code, stdout, stderr = run(
        app,
        "replay",
        "--trace",
        str(generic_trace(tmp_path)),
        "--model",
        MODEL,
        "--gpu",
        "L4",
        "--json",
        str(out),
        "--plot",
        str(png),
        "--startup-s",
        "60",
    )
    assert code == 0, stderr
    assert "oracle" in stdout and "GPU-hours" in stdout
    data = json.loads(out.read_text())
    assert data["trace"]["requests"] == 2000
    assert data["trace"]["span_s"] == pytest.approx(99.95)
    assert set(data["policies"]) == {
        "static",
        "hpa",
        "kpa",
        "keda-waiting",
        "predictive",
        "deployed",
        "oracle",
    }
    for policy in data["policies"].values():
        assert set(policy) >= {"gpu_hours", "cost_usd", "slo_attainment", "peak_replicas"}
        assert 0 <= policy["slo_attainment"] <= 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_single_policy(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    code, _, stderr = run(
        app,
        "replay",
        "--trace",
        str(generic_trace(tmp_path)),
        "--model",
        MODEL,
        "--gpu",
        "H100",
        "--policy",
        "oracle",
        "--json",
        str(out),
    )
    assert code == 0, stderr
    assert list(json.loads(out.read_text())["policies"]) == ["oracle"]


def test_bad_row_exits_2_with_file_and_line(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,input_tokens,output_tokens\n0,10,5\n1,many,5\n")
    code, _, stderr = run(app, "replay", "--trace", str(path), "--model", MODEL, "--gpu", "H100")
    assert code == 2
    assert f"error: {path}:3: column 'input_tokens' is 'many', expected a non-negative integer" in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--gpu", "X100"), "gpu 'X100' is not in the catalog; known GPUs:"),
        (("--model", "acme/none"), "model 'acme/none' is not in the catalog; known models:"),
        (
            ("--policy", "magic"),
            "--policy 'magic' is not one of static, hpa, kpa, keda-waiting, predictive, deployed, oracle, all",
        ),
        (("--format", "parquet"), "--format 'parquet' is not one of auto, azure, mooncake, generic, minute"),
        (
            ("--model", "meta-llama/Llama-3.1-70B-Instruct"),
            "does not fit 1 x H100: weights (131.4 GiB) plus runtime overhead do not fit",
        ),
    ],
)
def test_bad_options_exit_2(app: typer.Typer, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    base = {"--trace": str(generic_trace(tmp_path)), "--model": MODEL, "--gpu": "H100"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [item for pair in base.items() for item in pair]
    code, _, stderr = run(app, "replay", *flat)
    assert code == 2
    assert message in stderr


def test_replay_of_a_stack_model_runs_its_scaled_object(
    app: typer.Typer, tmp_path: Path, repo_root: Path
) -> None:
    """aws-dev's model, as its ScaledObject deploys it: 1-4 replicas, the workday floor of 2."""
    out = tmp_path / "d.json"
    # Monday 2024-01-01, 07:00 to 09:00 Berlin time (06:00-08:00 UTC): the workday window opens at 08:00.
    trace = tmp_path / "m.csv"
    trace.write_text(
        "minute,requests,request_tokens,response_tokens\n"
        + "".join(f"{m},60,60000,12000\n" for m in range(120))
    )
    code, stdout, stderr = run(
        app,
        "replay",
        "--trace",
        str(trace),
        "--stack",
        "aws-dev",
        "--model",
        "qwen2-5-0-5b",
        "--policy",
        "deployed",
        "--trace-start",
        "2024-01-01T06:00:00Z",
        "--json",
        str(out),
    )
    assert code == 0, stderr
    assert "Qwen/Qwen2.5-0.5B-Instruct on L4 x1" in stdout
    data = json.loads(out.read_text())
    parameters = data["parameters"]["deployed"]
    assert (parameters["min_replicas"], parameters["max_replicas"]) == (1, 4)
    # aws-dev sets no startupS: the replay and the forecast both use the stack's start-up estimate
    # (weights from its EFS store, image pre-pulled).
    from llmops.infra.config import load_stack_file
    from llmops.infra.model_store import startup_estimate_s

    config = load_stack_file(repo_root / "stacks", "aws-dev")
    estimate = startup_estimate_s(config, config.models[0])
    assert estimate is not None and estimate < 180
    assert parameters["forecast_startup_s"] == estimate and data["model"]["startup_s"] == estimate
    assert parameters["windows"][0]["replicas"] == 2
    # A light load keeps one replica until the window opens, then the floor holds two.
    assert data["policies"]["deployed"]["peak_replicas"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--model", "nope"), "--model: 'nope' is not a model of this stack (models: qwen2-5-0-5b)"),
        (("--gpu", "H100"), "--gpu H100: with --stack it comes from the stack's model; leave it out"),
        (("--stack", "nowhere"), "nowhere"),
        (("--trace-start", "monday"), "--trace-start 'monday' is not an ISO 8601 time"),
    ],
)
def test_bad_stack_options_exit_2(
    app: typer.Typer, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    base = {"--trace": str(generic_trace(tmp_path)), "--stack": "aws-dev", "--model": "qwen2-5-0-5b"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [item for pair in base.items() for item in pair]
    code, _, stderr = run(app, "replay", *flat)
    assert code == 2, stderr
    assert message in stderr


def test_a_stack_model_without_autoscaling_has_nothing_to_replay(app: typer.Typer, tmp_path: Path) -> None:
    code, _, stderr = run(
        app, "replay", "--trace", str(generic_trace(tmp_path)), "--stack", "local", "--model", "qwen2-5-0-5b"
    )
    assert code == 2
    assert (
        "models[0].autoscaling: is not set, so the stack deploys no ScaledObject to replay. "
        "Fix: add an autoscaling: block to the model, or replay without --stack" in stderr
    )


def test_target_overrides_the_deployed_policy(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    args = ["replay", "--trace", str(generic_trace(tmp_path)), "--policy", "deployed", "--json", str(out)]
    for where in (["--stack", "aws-dev", "--model", "qwen2-5-0-5b"], ["--model", MODEL, "--gpu", "L4"]):
        code, _, stderr = run(app, *args, *where, "--target", "0.55")
        assert code == 0, stderr
        assert json.loads(out.read_text())["parameters"]["deployed"]["target"] == 0.55
    code, _, stderr = run(app, *args, "--model", MODEL, "--gpu", "L4", "--target", "1.5")
    assert code == 2
    assert "--target 1.5 must be in (0, 1], e.g. 0.7" in stderr


def test_replay_without_a_stack_needs_a_gpu(app: typer.Typer, tmp_path: Path) -> None:
    code, _, stderr = run(app, "replay", "--trace", str(generic_trace(tmp_path)), "--model", MODEL)
    assert code == 2
    assert "--gpu is required without --stack" in stderr


def test_replay_of_the_shared_minute_series(app: typer.Typer, tmp_path: Path) -> None:
    trace = require_shared("data/traces/servegen-language-m-mid.minute.csv")
    out = tmp_path / "s.json"
    code, _, stderr = run(
        app, "replay", "--trace", str(trace), "--model", MODEL, "--gpu", "H100", "--json", str(out)
    )
    assert code == 0, stderr
    data = json.loads(out.read_text())
    assert data["trace"]["span_s"] == 14 * 86400
    policies = data["policies"]
    assert policies["oracle"]["gpu_hours"] <= policies["static"]["gpu_hours"]


def test_prices_refresh_aws(app: typer.Typer, tmp_path: Path, fake_aws: None) -> None:
    out = tmp_path / "aws.csv"
    code, stdout, stderr = run(
        app,
        "prices",
        "refresh",
        "--cloud",
        "aws",
        "--region",
        "us-east-1",
        "--instance-type",
        "g6.xlarge",
        "--output",
        str(out),
    )
    assert code == 0, stderr
    assert "g6.xlarge" in stdout
    lines = out.read_text().splitlines()
    assert lines[0].startswith("cloud,region,instance_type,gpu,gpu_count")
    assert lines[1].startswith("aws,us-east-1,g6.xlarge,L4,1,0.80480,")


def test_prices_refresh_other_clouds_explain(app: typer.Typer) -> None:
    from llmops.components.cloud import registered_clouds

    code, _, stderr = run(app, "prices", "refresh", "--cloud", "oracle")
    assert code == 2
    known = ", ".join(cloud.value for cloud in registered_clouds())
    assert f"--cloud 'oracle': only {known} can be refreshed from its API" in stderr


def test_prices_refresh_without_credentials(app: typer.Typer, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _, stderr = run(app, "prices", "refresh", "--cloud", "aws")
    assert code == 2
    assert "no AWS credentials found" in stderr


def test_missing_trace_file(app: typer.Typer, tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    code, _, stderr = run(app, "replay", "--trace", str(missing), "--model", MODEL, "--gpu", "L4")
    assert code == 2
    assert f"error: {missing}: no such file" in stderr


def test_capacity_json_has_the_documented_shape(app: typer.Typer) -> None:
    code, stdout, _ = run(
        app,
        "capacity",
        "--model",
        MODEL,
        "--gpu",
        "H100",
        "--quantization",
        "fp8",
        "--max-model-len",
        "8192",
        "--input-tokens",
        "1000",
        "--output-tokens",
        "200",
        "--concurrency",
        "32",
        "--json",
    )
    assert code == 0
    data = json.loads(stdout)
    assert {"fits", "weights_gib", "kv_cache_tokens", "max_model_len", "throughput", "latency"} <= set(data)
    assert set(data["throughput"]) == {"output_tokens_per_s", "requests_per_s"}
    assert set(data["latency"]) == {"ttft_s", "itl_s"}
    assert data["fits"] and data["precision"] == "FP8 W8A8"
    assert data["throughput"]["requests_per_s"] == pytest.approx(
        data["throughput"]["output_tokens_per_s"] / 200, rel=1e-3
    )
    assert 0 < data["latency"]["itl_s"] < data["latency"]["ttft_s"] + 1


def test_capacity_reports_a_replica_that_does_not_fit(app: typer.Typer) -> None:
    code, stdout, _ = run(
        app, "capacity", "--model", "meta-llama/Llama-3.1-70B-Instruct", "--gpu", "L4", "--json"
    )
    assert code == 0
    data = json.loads(stdout)
    assert data["fits"] is False and data["throughput"]["output_tokens_per_s"] is None


def test_capacity_bad_input_names_the_flag(app: typer.Typer) -> None:
    code, _, stderr = run(app, "capacity", "--model", MODEL, "--gpu", "H100", "--concurrency", "0")
    assert code == 2 and "--concurrency 0 must be at least 1" in stderr
    code, _, stderr = run(app, "capacity", "--model", MODEL, "--gpu", "H100", "--kv-cache-dtype", "fp4")
    assert code == 2 and "--kv-cache-dtype 'fp4' is not one of auto" in stderr


def test_replay_estimates_the_start_up_unless_given(app: typer.Typer, tmp_path: Path) -> None:
    from llmops.components.capacity.startup import WeightSource, model_estimate

    out = tmp_path / "r.json"
    base = [
        "replay",
        "--trace",
        str(generic_trace(tmp_path)),
        "--model",
        MODEL,
        "--gpu",
        "L4",
        "--policy",
        "oracle",
    ]
    code, stdout, stderr = run(
        app, *base, "--weights-from", "efs-elastic", "--pre-pulled", "--json", str(out)
    )
    assert code == 0, stderr
    expected = round(model_estimate(MODEL, source=WeightSource.EFS_ELASTIC, pre_pulled=True).total_s)
    assert f"start-up: estimated {expected} s" in stdout
    assert json.loads(out.read_text())["model"]["startup_s"] == expected
    code, stdout, _ = run(app, *base, "--startup-s", "60", "--json", str(out))
    assert "estimated" not in stdout and json.loads(out.read_text())["model"]["startup_s"] == 60
    code, _, stderr = run(app, *base, "--weights-from", "s3")
    assert code == 2 and "--weights-from 's3' is not one of hub, efs-elastic, efs-bursting, nfs" in stderr
