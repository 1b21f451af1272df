"""The rules as a CrossGuard policy pack: each rule becomes a `pulumi_policy` policy.

`pulumi preview --policy-pack policies` starts `policies/__main__.py`, which calls
`serve()`. Resource rules run on each resource's inputs, stack rules on every resource
of the stack plus the stack's own config (the Pulumi CLI hands a policy pack the stack's
config; older CLIs do not, and the rules that need it then report "not applicable").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi_policy as cg
from llmops.policies.rules import RULES, UNKNOWN, Level, NotApplicable, Resource, Rule, StackFacts

PACK_NAME = "llmops"

_LEVELS = {
    Level.ADVISORY: cg.EnforcementLevel.ADVISORY,
    Level.MANDATORY: cg.EnforcementLevel.MANDATORY,
    Level.DISABLED: cg.EnforcementLevel.DISABLED,
}
_SEVERITY = {
    "security": cg.Severity.HIGH,
    "reliability": cg.Severity.MEDIUM,
    "cost": cg.Severity.MEDIUM,
}

# Pulumi's markers for values unknown during a preview (pulumi_policy/proxy.py).
_UNKNOWN_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "030794c1-ac77-496b-92df-f27374a8bd58",
        "e48ece36-62e2-4504-bad9-02848725956a",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
    }
)


def plain(value: Any) -> Any:
    """Properties as the plan records them: plain dicts and lists, whole numbers as ints, unknowns as
    `[unknown]`.

    The SDK wraps inputs in proxies that raise on an unknown value; unwrapping them lets
    each rule skip just the unknown part, as it does in `llmops plan --preview`.
    """
    if isinstance(value, Mapping):
        target = _target(value)
        return {str(k): plain(v) for k, v in target.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        target = _target(value)
        return [plain(v) for v in target]
    if isinstance(value, str) and value in _UNKNOWN_SENTINELS:
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf Struct carries every number as a double, as in the plan
    return value


def _target(proxy: Any) -> Any:
    # pulumi_policy's proxies hand their wrapped value out under this key (its serializer uses it too).
    if type(proxy).__name__ in ("_DictProxy", "_ListProxy", "_DictSecretsProxy", "_ListSecretsProxy"):
        return proxy["__target"]
    return proxy


def stack_facts() -> StackFacts:
    """The stack's config as the engine handed it to the pack; None where it did not."""
    import pulumi
    from llmops.infra.config import NAMESPACE, ConfigError, load_from_pulumi
    from pulumi.runtime import config as runtime_config

    present = any(key.startswith(f"{NAMESPACE}:") for key in runtime_config.get_config_env())
    if not present:
        return StackFacts(config=None)
    try:
        config = load_from_pulumi()
    except ConfigError:
        return StackFacts(config=None)  # the program reports the config's problems itself
    from llmops.components.cloud import kit

    regions = {pool.cloud.value: kit(pool.cloud).region() for pool in config.pools}
    return StackFacts(
        config=config,
        region=pulumi.Config("aws").get("region"),
        regions={cloud: region for cloud, region in regions.items() if region},
    )


def _settings(rule: Rule, configured: Mapping[str, Any]) -> dict[str, Any]:
    settings = rule.defaults()
    settings.update({k: v for k, v in configured.items() if k != "enforcementLevel"})
    return settings


def _schema(rule: Rule) -> cg.PolicyConfigSchema | None:
    if not rule.config_schema:
        return None
    return cg.PolicyConfigSchema(properties={k: dict(v) for k, v in rule.config_schema.items()})


def resource_policy(rule: Rule) -> cg.ResourceValidationPolicy:
    check = rule.check
    assert check is not None

    def validate(args: cg.ResourceValidationArgs, report_violation: cg.ReportViolation) -> None:
        if not rule.applies_to(args.resource_type):
            return
        resource = Resource(args.resource_type, args.urn, args.name, plain(args.props))
        try:
            for message in check(resource, _settings(rule, args.get_config())):
                report_violation(f"{message}\nFix: {rule.remediation}", None)
        except NotApplicable as exc:
            args.not_applicable(exc.reason)

    return cg.ResourceValidationPolicy(
        name=rule.id,
        description=rule.description,
        validate=validate,
        enforcement_level=_LEVELS[rule.level],
        config_schema=_schema(rule),
        severity=_SEVERITY[rule.category.value],
        tags=[rule.category.value],
        remediation_steps=rule.remediation,
    )


def stack_policy(rule: Rule, facts: StackFacts) -> cg.StackValidationPolicy:
    check = rule.check_stack
    assert check is not None

    def validate(args: cg.StackValidationArgs, report_violation: cg.ReportViolation) -> None:
        resources = [
            Resource(r.resource_type, r.urn, r.name, plain(r.props), r.parent.urn if r.parent else None)
            for r in args.resources
        ]
        try:
            for violation in check(resources, facts, _settings(rule, args.get_config())):
                report_violation(f"{violation.message}\nFix: {rule.remediation}", violation.urn)
        except NotApplicable as exc:
            args.not_applicable(exc.reason)

    return cg.StackValidationPolicy(
        name=rule.id,
        description=rule.description,
        validate=validate,
        enforcement_level=_LEVELS[rule.level_for(facts)],
        config_schema=_schema(rule),
        severity=_SEVERITY[rule.category.value],
        tags=[rule.category.value],
        remediation_steps=rule.remediation,
    )


def policies(facts: StackFacts | None = None) -> list[cg.Policy]:
    """Every rule as a pulumi_policy policy (stack rules see `facts`)."""
    facts = facts if facts is not None else StackFacts(config=None)
    return [stack_policy(rule, facts) if rule.is_stack_rule else resource_policy(rule) for rule in RULES]


def serve() -> None:
    """Start the pack's analyzer server (blocks; the Pulumi CLI talks to it over gRPC)."""
    cg.PolicyPack(
        name=PACK_NAME,
        policies=policies(stack_facts()),
        enforcement_level=cg.EnforcementLevel.MANDATORY,
        description="llmops: security, reliability and cost policies for GPU LLM serving stacks",
        provider="llmops",
        tags=["llmops", "gpu", "kubernetes"],
    )
