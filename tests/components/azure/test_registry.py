"""The serving image on Azure: the ACR registry, the pools' AcrPull grants, the purge task and the push
login, under the plan's mocks (azure-dev with `images.vllm: build`), and the token exchange against a
local HTTP server.

The config still refuses `build` on Azure until the ACR credential provider's checksum is recorded
(components/azure/pull_credentials.py); these tests lift that refusal to check what `build` will create.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from llmops.components.azure import plan_mocks
from llmops.components.azure.registry import (
    ACR_PULL,
    PUSH_USERNAME,
    exchange_refresh_token,
    purge_task,
    registry_name,
)
from llmops.components.cloud import kit
from llmops.infra import artifacts
from llmops.infra.config import RawStack, read_stack_file
from llmops.infra.plan import MOCK_SECRET_MARKER, Plan, run_plan

REPO = Path(__file__).resolve().parents[3]
STACK = "azure-dev"
BASE_DIGEST = "sha256:" + "ab" * 32


def _raw(images: dict[str, Any]) -> RawStack:
    raw = read_stack_file(REPO / "stacks", STACK)
    values = copy.deepcopy(raw.values)
    values["images"] = images
    return RawStack(raw.source, values, raw.secret_keys, raw.other)


def _run(preview: bool = False) -> Plan:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kit("azure"), "image_registry_unavailable", None)
        return run_plan(_raw({"vllm": "build", "vllmBaseDigest": BASE_DIGEST}), STACK, preview=preview)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return _run()


def test_the_config_refuses_build_while_the_provider_checksum_is_missing() -> None:
    from llmops.infra.config import ConfigError, parse

    with pytest.raises(ConfigError) as caught:
        parse(_raw({"vllm": "build", "vllmBaseDigest": BASE_DIGEST}))
    assert any("AZURE_ACR_PROVIDER_SHA256" in str(p) for p in caught.value.problems)


def test_registry_settings(plan: Plan) -> None:
    (registry,) = plan.of_type("azure-native:containerregistry:Registry")
    inputs = registry.inputs
    (group,) = {
        r.inputs["resourceGroupName"] for r in plan.of_type("azure-native:compute:VirtualMachineScaleSet")
    }
    # The name the nodes derive from IMDS (scripts/image-credentials.sh): subscription and group.
    assert inputs["registryName"] == registry_name(plan_mocks.PLAN_SUBSCRIPTION, group)
    assert re.fullmatch(r"[a-z0-9]{5,50}", inputs["registryName"])
    assert inputs["resourceGroupName"] == group
    assert inputs["adminUserEnabled"] is False
    assert inputs["anonymousPullEnabled"] is False
    assert inputs["sku"] == {"name": "Standard"}
    assert "policies" not in inputs  # retention of untagged manifests is Premium only


def test_each_pool_identity_gets_acr_pull_on_the_registry_alone(plan: Plan) -> None:
    # The plan's mocks give each identity the principal uuid5("principal/<name>") (plan_mocks.py).
    pool_principals = {
        str(uuid.uuid5(uuid.NAMESPACE_URL, f"principal/{r.name}"))
        for r in plan.of_type("azure-native:managedidentity:UserAssignedIdentity")
        if r.name.startswith("t4-")
    }
    assert len(pool_principals) == 2
    grants = [r for r in plan.of_type("azure-native:authorization:RoleAssignment") if "-pull-" in r.name]
    assert {g.inputs["principalId"] for g in grants} == pool_principals
    (registry,) = plan.of_type("azure-native:containerregistry:Registry")
    for grant in grants:
        assert grant.inputs["scope"] == f"{registry.name}-id"
        assert grant.inputs["roleDefinitionId"].endswith(f"/roleDefinitions/{ACR_PULL}")
        assert grant.inputs["principalType"] == "ServicePrincipal"
    # Every AcrPull grant is for a pool identity, and none is wider than the registry.
    others = [
        r
        for r in plan.of_type("azure-native:authorization:RoleAssignment")
        if r.inputs["roleDefinitionId"].endswith(ACR_PULL) and r not in grants
    ]
    assert not others
    assert len({g.inputs["roleAssignmentName"] for g in grants}) == 2


def test_the_purge_task_keeps_the_newest_images_and_spares_the_cache(plan: Plan) -> None:
    (task,) = plan.of_type("azure-native:containerregistry:Task")
    inputs = task.inputs
    assert inputs["trigger"]["timerTriggers"] == [
        {"name": "nightly", "schedule": "0 3 * * *", "status": "Enabled"}
    ]
    assert inputs["platform"] == {"os": "Linux", "architecture": "amd64"}
    document = yaml.safe_load(base64.b64decode(inputs["step"]["encodedTaskContent"]))
    (step,) = document["steps"]
    command = step["cmd"]
    assert command.startswith("acr purge ") and "--keep 10" in command and "--untagged" in command
    (tag_filter,) = re.findall(r"--filter '([^']+)'", command)
    repository, _, pattern = tag_filter.partition(":")
    assert repository == "vllm"
    assert re.fullmatch(pattern.removesuffix("$"), "v0.33.0-0123456789ab")
    assert not re.fullmatch(pattern.removesuffix("$"), "buildcache")
    assert purge_task(3) != purge_task(10)


def test_build_pushes_with_an_exchanged_token_login(plan: Plan, tmp_path: Path) -> None:
    (registry,) = plan.of_type("azure-native:containerregistry:Registry")
    server = f"{registry.inputs['registryName']}.azurecr.io"
    (image,) = plan.of_type("docker-build:index:Image")
    (tag,) = image.inputs["tags"]
    assert re.fullmatch(re.escape(f"{server}/vllm") + r":v0\.33\.0-[0-9a-f]{12}", tag)
    assert image.inputs["cacheFrom"] == [{"registry": {"ref": f"{server}/vllm:buildcache"}}]
    (login,) = image.inputs["registries"]
    assert login == {"address": server, "username": PUSH_USERNAME, "password": "[secret]"}
    assert re.fullmatch(re.escape(f"{server}/vllm") + r"@sha256:[0-9a-f]{64}", plan.outputs["servingImage"])
    text = (artifacts.write(plan, tmp_path) / "plan.json").read_text()
    assert PUSH_USERNAME in text and MOCK_SECRET_MARKER not in text


def test_preview_runs_with_unknowns() -> None:
    preview = _run(preview=True)
    assert preview.of_type("azure-native:containerregistry:Registry")
    (image,) = preview.of_type("docker-build:index:Image")
    assert image.inputs["registries"][0]["password"] == "[secret]"


def test_registry_names_do_not_depend_on_case() -> None:
    assert registry_name("SUB", "Group-A") == registry_name("sub", "group-a")
    assert registry_name("sub", "group-a") != registry_name("sub", "group-b")


# --- the token exchange, against a real HTTP server on 127.0.0.1


class _Exchange(BaseHTTPRequestHandler):
    answers: list[tuple[int, bytes]] = []
    seen: list[tuple[str, dict[str, list[str]], str]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        self.seen.append((self.path, form, self.headers.get("Content-Type", "")))
        status, body = self.answers.pop(0)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@pytest.fixture
def exchange_server() -> Iterator[str]:
    _Exchange.answers, _Exchange.seen = [], []
    server = HTTPServer(("127.0.0.1", 0), _Exchange)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/oauth2/exchange"
    server.shutdown()
    server.server_close()


def test_the_exchange_posts_the_token_in_the_body(exchange_server: str) -> None:
    _Exchange.answers = [(200, json.dumps({"refresh_token": "acr-refresh"}).encode())]
    token = exchange_refresh_token("r.azurecr.io", "entra-token", "tenant-1", endpoint=exchange_server)
    assert token == "acr-refresh"
    ((path, form, content_type),) = _Exchange.seen
    assert path == "/oauth2/exchange"
    assert content_type == "application/x-www-form-urlencoded"
    assert form == {
        "grant_type": ["access_token"],
        "service": ["r.azurecr.io"],
        "tenant": ["tenant-1"],
        "access_token": ["entra-token"],
    }


def test_a_refused_exchange_says_what_is_missing(exchange_server: str) -> None:
    _Exchange.answers = [(401, b'{"errors": []}')]
    with pytest.raises(
        RuntimeError, match=r"r\.azurecr\.io refused the token exchange \(HTTP 401\).*AcrPush"
    ):
        exchange_refresh_token("r.azurecr.io", "entra-token", "tenant-1", endpoint=exchange_server)


def test_an_answer_without_a_refresh_token_is_an_error(exchange_server: str) -> None:
    _Exchange.answers = [(200, b'{"access_token": "x"}')]
    with pytest.raises(RuntimeError, match="without a refresh_token"):
        exchange_refresh_token("r.azurecr.io", "entra-token", "tenant-1", endpoint=exchange_server)
