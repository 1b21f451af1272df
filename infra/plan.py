"""The offline plan: run the real program under Pulumi's mock engine and record what it declares.

No Pulumi CLI, no credentials, no network. Every resource registration the
program makes goes through `RecordingMonitor`, which keeps the resource's type,
name, parent and inputs exactly as the SDK serialised them, with secrets masked
and unknowns marked. The mocks answer the invokes the program needs with fixed,
plausible values: each cloud's kit brings its answers (components/<cloud>/plan_mocks.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format
from llmops.infra.config import NAMESPACE, RawStack, StackConfig, parse, to_pulumi_config
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings

SECRET_MASK = "[secret]"
UNKNOWN = "[unknown]"

# Sentinels of Pulumi's wire format (sdk/python/lib/pulumi/runtime/rpc.py).
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
_OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
_UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def _cloud_invokes() -> dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]]:
    from llmops.components.cloud import all_kits

    answers: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {}
    for cloud in all_kits():
        answers.update(cloud.plan_invokes)
    return answers


def _cloud_outputs() -> dict[str, Callable[[str], dict[str, Any]]]:
    from llmops.components.cloud import all_kits

    computed: dict[str, Callable[[str], dict[str, Any]]] = {}
    for cloud in all_kits():
        computed.update(cloud.plan_outputs)
    return computed


# Invokes the program makes, answered with stable values so the plan is reproducible.
# Keys are invoke tokens; values take the invoke's arguments. Each cloud's kit brings its own.
INVOKE_ANSWERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = _cloud_invokes()

# Marks every secret value the mocks make up (private keys, passwords): a test proves
# that none of them reaches a non-secret input or plan.json.
MOCK_SECRET_MARKER = "llmops-plan-secret"


def _pem(kind: str, name: str) -> str:
    # Placeholders, not key material. Certificates are public; only keys carry the secret marker.
    marker = MOCK_SECRET_MARKER if "PRIVATE" in kind else "llmops-plan-public"
    return f"-----BEGIN {kind}-----\n{marker}-{name}\n-----END {kind}-----\n"


def _plan_digest(name: str) -> str:
    """A stable, made-up `sha256:` digest for a planned image build."""
    import hashlib

    return "sha256:" + hashlib.sha256(f"llmops-plan-image-{name}".encode()).hexdigest()


# Provider-computed outputs the program reads back (key material for the kubeconfig, and
# each cloud's addresses and versions from its kit); everything else echoes the inputs.
COMPUTED_OUTPUTS: dict[str, Callable[[str], dict[str, Any]]] = {
    "random:index/randomPassword:RandomPassword": lambda name: {"result": f"{MOCK_SECRET_MARKER}-{name}"},
    "tls:index/privateKey:PrivateKey": lambda name: {
        "privateKeyPem": _pem("PRIVATE KEY", name),
        "publicKeyPem": _pem("PUBLIC KEY", name),
    },
    "tls:index/selfSignedCert:SelfSignedCert": lambda name: {"certPem": _pem("CERTIFICATE", name)},
    "tls:index/locallySignedCert:LocallySignedCert": lambda name: {"certPem": _pem("CERTIFICATE", name)},
    "tls:index/certRequest:CertRequest": lambda name: {"certRequestPem": _pem("CERTIFICATE REQUEST", name)},
    # The serving image build (pulumi-docker-build): the digest BuildKit reports after the push.
    "docker-build:index:Image": lambda name: {"digest": _plan_digest(name)},
    **_cloud_outputs(),
}


@dataclass
class PlannedResource:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    depends_on: list[str] = field(default_factory=list)
    """URNs named in the resource's `depends_on` (what `pulumi up` creates before it)."""

    @property
    def package(self) -> str:
        """Provider package of the type token (the part before the first colon: kubernetes, llmops, ...)."""
        token = self.type.removeprefix("pulumi:providers:")
        return token.split(":", 1)[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "inputs": self.inputs,
            **({"dependsOn": self.depends_on} if self.depends_on else {}),
        }


@dataclass
class Plan:
    stack: str
    preview: bool
    config: StackConfig
    resources: list[PlannedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def by_type(self) -> dict[str, int]:
        return dict(sorted(Counter(r.type for r in self.resources).items()))

    def by_package(self) -> dict[str, int]:
        return dict(sorted(Counter(r.package for r in self.resources).items()))

    def of_type(self, type_token: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_token]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "preview": self.preview,
            "summary": {
                "resources": len(self.resources),
                "by_package": self.by_package(),
                "by_type": self.by_type(),
            },
            "resources": [r.to_json() for r in self.resources],
            "outputs": self.outputs,
        }


def _masked(inner: Any) -> Any:
    """A secret, masked. A secret map (a Secret's `stringData`) keeps its keys, so manifests stay valid."""
    if isinstance(inner, dict) and inner.get(_SIG_KEY) is None:
        return {str(k): SECRET_MASK for k in sorted(inner)}
    return SECRET_MASK


def clean_value(value: Any) -> Any:
    """A wire-format value made readable: secrets masked, unknowns marked, references as URNs."""
    if isinstance(value, dict):
        sig = value.get(_SIG_KEY)
        if sig == _SECRET_SIG:
            return _masked(value.get("value"))
        if sig == _RESOURCE_SIG:
            return value.get("urn", UNKNOWN)
        if sig == _OUTPUT_SIG:
            if value.get("secret"):
                return _masked(value.get("value"))
            return clean_value(value["value"]) if "value" in value else UNKNOWN
        if sig is not None:  # assets and archives: keep the kind, drop the payload
            return {k: v for k, v in value.items() if k != _SIG_KEY and isinstance(v, str) and len(v) < 200}
        # protobuf maps carry no order; sorted keys make plans diff cleanly between runs
        return {k: clean_value(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [clean_value(v) for v in value]
    if value == _UNKNOWN_VALUE:
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        # protobuf Struct carries every number as a double
        return int(value)
    return value


def _default_outputs(type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    from llmops.components.cloud import all_kits

    out: dict[str, Any] = {}
    for cloud in all_kits():
        out.update(cloud.plan_default_outputs(type_token, name, inputs))
    if type_token == "docker-build:index:Image":
        # The pushed reference, as the provider reports it: the first tag, by digest.
        tags = [str(tag) for tag in inputs.get("tags") or []]
        if tags:
            out["ref"] = f"{tags[0]}@{_plan_digest(name)}"
    return out


def _fill_computed(echoed: dict[str, Any], computed: Mapping[str, Any]) -> None:
    """Add the provider's computed values to the echoed inputs without overriding any input, also
    inside nested blocks (a Filestore instance's `networks[i].ipAddresses` beside its inputs)."""
    for key, value in computed.items():
        given = echoed.get(key)
        if key not in echoed:
            echoed[key] = value
        elif isinstance(given, dict) and isinstance(value, Mapping):
            _fill_computed(given, value)
        elif isinstance(given, list) and isinstance(value, list) and len(given) == len(value):
            for index, (inner, extra) in enumerate(zip(given, value, strict=True)):
                if isinstance(inner, dict) and isinstance(extra, Mapping):
                    inner = dict(inner)
                    _fill_computed(inner, extra)
                    given[index] = inner


class PlanMocks(pulumi_mocks.Mocks):
    def __init__(self, preview: bool):
        self.preview = preview

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if self.preview:
            # A preview knows no provider-computed value: ids and outputs are unknown,
            # which is what the program must cope with on every `pulumi preview`.
            return "", {}
        outputs = dict(args.inputs)
        computed = COMPUTED_OUTPUTS.get(args.typ)
        if computed is not None:
            outputs.update(computed(args.name))
        _fill_computed(outputs, _default_outputs(args.typ, args.name, args.inputs))
        return f"{args.name}-id", outputs

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        answer = INVOKE_ANSWERS.get(args.token)
        if answer is None:
            raise LookupError(
                f"the offline plan has no answer for invoke {args.token!r}; "
                "add one to infra.plan.INVOKE_ANSWERS"
            )
        return answer(args.args), []


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, keeping each registration's raw inputs (secrets still marked)."""

    def __init__(self, mocks: pulumi_mocks.Mocks):
        super().__init__(mocks)
        self.records: list[PlannedResource] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
            self.records.append(
                PlannedResource(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent or None,
                    custom=bool(request.custom),
                    inputs=clean_value(inputs),
                    depends_on=sorted(request.dependencies),
                )
            )
        return response


def run_plan(raw: RawStack, stack: str, *, preview: bool = False) -> Plan:
    """Validate the stack's config, then run the program under mocks and return what it declared."""
    config = parse(raw)  # raises ConfigError before anything is registered

    from llmops.infra import program

    mocks = PlanMocks(preview)
    monitor = RecordingMonitor(mocks)
    pulumi_settings.ROOT.set(None)  # a fresh root Stack resource for every plan in this process
    pulumi.runtime.set_mocks(mocks, project=NAMESPACE, stack=stack, preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(to_pulumi_config(raw), secret_keys=sorted(raw.secret_keys))

    outputs: dict[str, Any] = {}

    def program_then_outputs() -> pulumi.Output[bool]:
        program.run()
        root = pulumi_settings.get_root_resource()
        exported = dict(getattr(root, "outputs", {}) or {})
        return pulumi.Output.from_input(asyncio.ensure_future(_collect_outputs(exported, outputs)))

    # pulumi.runtime.test runs the function and waits for every outstanding registration.
    with _no_source_stack_traces():
        pulumi.runtime.test(program_then_outputs)()
    # Sorted by URN: registration order depends on when outputs resolve; plans must diff cleanly.
    resources = sorted(monitor.records, key=lambda r: r.urn)
    return Plan(stack=stack, preview=preview, config=config, resources=resources, outputs=outputs)


@contextlib.contextmanager
def _no_source_stack_traces() -> Iterator[None]:
    """Skip the call stack the SDK captures for every resource (`traceback.extract_stack`, about
    3 ms each): it is diagnostics for the Pulumi engine's messages, and the plan's monitor records
    no source positions. Only while the plan runs; the SDK's own function where it has none."""
    from pulumi.runtime import resource as sdk_resource

    original = getattr(sdk_resource, "_get_stack_trace", None)
    if original is None:
        yield
        return
    from pulumi.runtime.proto import source_pb2

    sdk_resource._get_stack_trace = source_pb2.StackTrace  # pyright: ignore[reportAttributeAccessIssue]
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = original  # pyright: ignore[reportAttributeAccessIssue]


async def _collect_outputs(exported: Mapping[str, Any], into: dict[str, Any]) -> bool:
    """Stack outputs as the CLI would show them: secrets masked, unknowns marked."""
    for key, value in exported.items():
        output = pulumi.Output.from_input(value)
        if not await output.is_known():
            into[key] = UNKNOWN
        elif await output.is_secret():
            into[key] = SECRET_MASK
        else:
            into[key] = clean_value(await output.future())
    return True


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=str) + "\n"
