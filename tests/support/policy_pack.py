"""Run the CrossGuard pack the way the Pulumi CLI does: `python -m pulumi.policy` on the pack
folder, then gRPC calls to the analyzer it serves (GetAnalyzerInfo, Configure, Analyze,
AnalyzeStack)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2 as proto
from pulumi.runtime.proto import analyzer_pb2_grpc

REPO_ROOT = Path(__file__).resolve().parents[2]

_LEVEL_NAMES = {proto.ADVISORY: "advisory", proto.MANDATORY: "mandatory", proto.DISABLED: "disabled"}


@dataclass(frozen=True)
class Diagnostic:
    policy: str
    level: str
    urn: str
    message: str


class Analyzer:
    def __init__(self, stub: analyzer_pb2_grpc.AnalyzerStub) -> None:
        self.stub = stub

    def info(self) -> proto.AnalyzerInfo:
        return self.stub.GetAnalyzerInfo(empty_pb2.Empty())

    def configure(self, pack_config: Mapping[str, Any]) -> None:
        request = proto.ConfigureAnalyzerRequest()
        for name, entry in pack_config.items():
            policy = proto.PolicyConfig()
            level = entry if isinstance(entry, str) else entry.get("enforcementLevel")
            if level:
                policy.enforcementLevel = {v: k for k, v in _LEVEL_NAMES.items()}[level]
            if isinstance(entry, Mapping):
                policy.properties.update({k: v for k, v in entry.items() if k != "enforcementLevel"})
            request.policyConfig[name].CopyFrom(policy)
        self.stub.Configure(request)

    def analyze(self, type_: str, urn: str, name: str, props: Mapping[str, Any]) -> list[Diagnostic]:
        request = proto.AnalyzeRequest(type=type_, urn=urn, name=name, properties=_struct(props))
        return _diagnostics(self.stub.Analyze(request))

    def analyze_stack(self, resources: Sequence[Mapping[str, Any]]) -> list[Diagnostic]:
        request = proto.AnalyzeStackRequest(
            resources=[
                proto.AnalyzerResource(
                    type=r["type"],
                    urn=r["urn"],
                    name=r["name"],
                    properties=_struct(r["inputs"]),
                    parent=r.get("parent") or "",
                )
                for r in resources
            ]
        )
        return _diagnostics(self.stub.AnalyzeStack(request))


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(json.loads(json.dumps(props)))
    return message


def _diagnostics(response: proto.AnalyzeResponse) -> list[Diagnostic]:
    return [
        Diagnostic(
            d.policyName, _LEVEL_NAMES.get(d.enforcementLevel, str(d.enforcementLevel)), d.urn, d.message
        )
        for d in response.diagnostics
    ]


@contextmanager
def running_pack(pulumi_config: Mapping[str, str] | None = None, stack: str = "test") -> Iterator[Analyzer]:
    """The pack in its own process, with the stack config the engine would pass (PULUMI_CONFIG)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    env.update({"PULUMI_PROJECT": "llmops", "PULUMI_STACK": stack, "PULUMI_DRY_RUN": "true"})
    if pulumi_config is not None:
        env["PULUMI_CONFIG"] = json.dumps(dict(pulumi_config))
    process = subprocess.Popen(
        # The engine address is only used for logging, which these calls do not reach.
        [sys.executable, "-m", "pulumi.policy", "127.0.0.1:1", str(REPO_ROOT / "policies")],
        cwd=REPO_ROOT / "policies",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        if not port.isdigit():
            process.kill()
            raise RuntimeError(
                f"the pack did not start: {port!r}\n{process.communicate(timeout=10)[1][-4000:]}"
            )
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            yield Analyzer(analyzer_pb2_grpc.AnalyzerStub(channel))
    finally:
        process.kill()
        process.wait(timeout=10)
