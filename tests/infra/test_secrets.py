"""Secrets in stack files: the nested `{secure: ...}` form, plain text refused, values never echoed."""

from __future__ import annotations

import json
import textwrap

import pytest
import yaml
from llmops.components.serving import EngineSpec, VllmModel, VllmModelArgs
from llmops.components.serving.vllm_model import VllmModelArgsError
from llmops.infra import artifacts
from llmops.infra.config import ConfigError, parse, split_namespace
from llmops.infra.plan import run_plan

from tests.infra.test_plan import container_of, only

PASSWORD = "correct-horse-battery-staple"
KUBECONFIG = (
    "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user: {client-key-data: c2VjcmV0LWtleQ==}\n"
)


def raw_of(text: str):
    document = yaml.safe_load(textwrap.dedent(text))
    return split_namespace("Pulumi.test.yaml", document["config"])


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(raw_of(text))
    return [str(p) for p in caught.value.problems]


MODEL = "  llmops:models:\n    - name: m\n      source: Qwen/Qwen2.5-0.5B-Instruct\n"
LOCAL = "config:\n  llmops:cluster: {kind: existing}\n"


@pytest.mark.parametrize(
    ("flag", "value", "fix"),
    [
        (
            "api-key",
            "sk-live-abc123",
            "remove it and set apiKeySecret: <name of a Secret with key VLLM_API_KEY>",
        ),
        ("hf-token", "hf_abcdef", "remove it and set hfTokenSecret: <name of a Secret with key HF_TOKEN>"),
        (
            "api_key",
            "sk-live-abc123",
            "remove it and set apiKeySecret: <name of a Secret with key VLLM_API_KEY>",
        ),
        (
            "db-password",
            "hunter2hunter2",
            "remove it; an option whose value is a secret would sit in plain text",
        ),
        ("auth-token", 123456789, "remove it; an option whose value is a secret"),
    ],
)
def test_extra_args_refuse_secret_options_without_echoing(flag: str, value: object, fix: str) -> None:
    text = LOCAL + MODEL + f"      extraArgs: {{{flag}: {json.dumps(value)}}}\n"
    (line,) = problems_of(text)
    assert line.startswith(
        f"models[0].extraArgs.{flag}: carries a secret, which would sit in plain text in the pod's args, "
        "plan.json and the state (the value is not shown). Fix: " + fix
    )
    assert str(value) not in line


def test_vllm_options_that_only_mention_tokens_stay_usable() -> None:
    text = (
        LOCAL
        + MODEL
        + "      extraArgs: {long-prefill-token-threshold: 512, return-tokens-as-token-ids: true}\n"
    )
    parse(raw_of(text))


def test_the_component_refuses_secret_options_too() -> None:
    args = VllmModelArgs(
        engine=EngineSpec(model="a/b", extra_args={"api-key": "sk-live-abc123"}), namespace="n"
    )
    with pytest.raises(VllmModelArgsError) as caught:
        VllmModel("m", args)
    assert (
        "engine.extra_args['api-key']: '[not shown]' carries a secret. Fix: remove it and set apiKeySecret"
        in str(caught.value)
    )
    assert "sk-live-abc123" not in str(caught.value)


def test_api_key_comes_from_a_secret_and_metrics_stay_scrapable() -> None:
    text = LOCAL + MODEL + "      apiKeySecret: m-api-key\n  llmops:observability: {enabled: true}\n"
    plan = run_plan(raw_of(text), "test")
    container = container_of(plan)
    env = {e["name"]: e for e in container["env"]}
    assert env["VLLM_API_KEY"]["valueFrom"] == {"secretKeyRef": {"name": "m-api-key", "key": "VLLM_API_KEY"}}
    assert not any("api-key" in a for a in container["args"])
    # vLLM keeps /metrics and /health outside the API-key guard: the scrape and the probes carry no key.
    (monitor,) = [r for r in plan.resources if r.inputs.get("kind") == "ServiceMonitor"]
    (endpoint,) = monitor.inputs["spec"]["endpoints"]
    assert endpoint.get("path", "/metrics") == "/metrics"
    assert "authorization" not in endpoint and "bearerTokenSecret" not in endpoint
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"


def test_nested_secure_grafana_password_is_accepted_and_masked(tmp_path) -> None:
    text = (
        LOCAL
        + MODEL
        + "  llmops:observability:\n    enabled: true\n    grafanaAdminPassword: {secure: v1:AAAA}\n"
    )
    raw = raw_of(text)
    assert "llmops:observability.grafanaAdminPassword" in raw.secret_keys
    plan = run_plan(raw, "test")
    target = artifacts.write(plan, tmp_path)
    written = (target / "plan.json").read_text() + "".join(
        p.read_text() for p in (target / "manifests").iterdir()
    )
    assert "v1:AAAA" not in written
    (secret,) = [r for r in plan.resources if r.type == "kubernetes:core/v1:Secret" and "grafana" in r.name]
    # Keys stay readable, every value is masked.
    assert secret.inputs["stringData"] == {"admin-password": "[secret]", "admin-user": "[secret]"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            f"  llmops:observability: {{enabled: true, grafanaAdminPassword: {PASSWORD}}}\n",
            "observability.grafanaAdminPassword: is a password in plain text in the stack file (the value is not "
            "shown). Fix: remove it and run: pulumi config set --secret --path "
            "'llmops:observability.grafanaAdminPassword' <value>",
        ),
        (
            "  llmops:observability: {enabled: true, grafanaAdminPassword: 123456789012345}\n",
            "observability.grafanaAdminPassword: is not a string. Fix: write grafanaAdminPassword as text",
        ),
    ],
)
def test_plaintext_or_malformed_passwords_are_errors_that_hide_the_value(body: str, expected: str) -> None:
    lines = problems_of(LOCAL + body)
    assert expected in lines
    assert not any(PASSWORD in line or "123456789012345" in line for line in lines)


def test_inline_kubeconfig_must_be_a_secret() -> None:
    document = {"config": {"llmops:cluster": {"kind": "existing", "kubeconfig": KUBECONFIG}}}
    with pytest.raises(ConfigError) as caught:
        parse(split_namespace("t", document["config"]))
    (line,) = [str(p) for p in caught.value.problems]
    assert line.startswith("cluster.kubeconfig: is an inline kubeconfig (credentials) in plain text")
    assert "c2VjcmV0LWtleQ" not in str(caught.value)
    # A path is not a secret; the nested secure form is accepted and stays masked.
    parse(split_namespace("t", {"llmops:cluster": {"kind": "existing", "kubeconfig": "~/.kube/config"}}))
    secure = split_namespace(
        "t", {"llmops:cluster": {"kind": "existing", "kubeconfig": {"secure": "v1:BBBB"}}}
    )
    plan = run_plan(secure, "test")
    assert only(plan, "pulumi:providers:kubernetes").inputs["kubeconfig"] == "[secret]"
