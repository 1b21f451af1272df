"""Every policy with a passing and a failing resource, the message asserted; the helpers' arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llmops.infra.config import load_stack_file
from llmops.policies.rules import RULES, Level, StackFacts, evaluate, rule_by_id
from llmops.policies.rules._walk import is_secret_name, parse_network, public_addresses

from tests.policies.cases import RESOURCE_CASES, Case
from tests.policies.resources import resource


def messages(rule_id: str, type_: str, props: dict) -> list[str]:
    rule = rule_by_id(rule_id)
    assert rule.check is not None and rule.applies_to(type_), f"{rule_id} does not check {type_}"
    return list(rule.check(resource(type_, props), rule.defaults()))


def test_the_pack_has_at_least_25_policies_each_fully_described() -> None:
    assert len(RULES) >= 25
    assert len({rule.id for rule in RULES}) == len(RULES)
    for rule in RULES:
        assert rule.description.endswith(".") and rule.remediation, rule.id
        assert rule.level in (Level.ADVISORY, Level.MANDATORY), rule.id
    assert {rule.category.value for rule in RULES} == {"security", "reliability", "cost"}


def test_every_resource_rule_has_a_case() -> None:
    covered = {case.rule for case in RESOURCE_CASES}
    resource_rules = {rule.id for rule in RULES if not rule.is_stack_rule}
    assert resource_rules == covered


@pytest.mark.parametrize("case", RESOURCE_CASES, ids=lambda c: c.id)
def test_resource_rule_passes_the_good_resource(case: Case) -> None:
    assert messages(case.rule, case.type, case.good) == []


@pytest.mark.parametrize("case", RESOURCE_CASES, ids=lambda c: c.id)
def test_resource_rule_fails_the_bad_resource_with_its_message(case: Case) -> None:
    found = messages(case.rule, case.type, case.bad)
    assert any(case.message in m for m in found), found


def test_unknown_values_are_skipped_not_failed() -> None:
    props = {"metadataOptions": {"httpTokens": "[unknown]", "httpPutResponseHopLimit": "[unknown]"}}
    assert messages("aws-imdsv2-required", "aws:ec2/launchTemplate:LaunchTemplate", props) == []
    assert messages("aws-imds-hop-limit", "aws:ec2/launchTemplate:LaunchTemplate", props) == []


def test_a_pulumi_secret_in_a_pod_spec_is_still_plaintext_there() -> None:
    from tests.policies.resources import changed, container, good_model_deployment

    props = changed(
        good_model_deployment(),
        lambda p: container(p)["env"].append({"name": "HF_TOKEN", "value": "[secret]"}),
    )
    assert messages("no-secret-env-values", "kubernetes:apps/v1:Deployment", props)


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("HF_TOKEN", True),
        ("api-key", True),
        ("adminPassword", True),
        ("client_secret", True),
        ("existingSecret", False),
        ("passwordKey", False),
        ("max-num-batched-tokens", False),
        ("tokenizer", False),
        ("HF_HOME", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


@pytest.mark.parametrize(
    ("cidrs", "public"),
    [
        # 2**32 minus the IANA special-purpose blocks (private, loopback, multicast, reserved, the
        # retired 6to4 relay 192.88.99.0/24, ...): the same table as the config's guard
        (["0.0.0.0/0"], 3_702_258_432),
        (["0.0.0.0/1", "128.0.0.0/1"], 3_702_258_432),
        (["0.0.0.0/00"], 3_702_258_432),
        (["0.0.0.0/0.0.0.0"], 3_702_258_432),
        (["10.0.0.0/8", "192.168.0.0/16"], 0),
        (["203.0.113.0/24"], 0),
        (["198.51.100.7/32", "8.8.8.8"], 1),
    ],
)
def test_public_address_arithmetic(cidrs: list[str], public: int) -> None:
    networks = [n for n in (parse_network(c) for c in cidrs) if n is not None]
    assert public_addresses(networks, 4) == public


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=16))
def test_splitting_a_range_never_hides_it(bits: int) -> None:
    """However 0.0.0.0/0 is cut into subnets, the union still counts the whole internet."""
    import ipaddress

    pieces = list(ipaddress.IPv4Network("0.0.0.0/0").subnets(prefixlen_diff=min(bits, 8)))
    assert public_addresses(pieces, 4) == public_addresses([ipaddress.IPv4Network("0.0.0.0/0")], 4)


def test_levels_come_from_the_pack_config_and_the_budget(repo_root: Path) -> None:
    config = load_stack_file(repo_root / "stacks", "aws-dev")
    facts = StackFacts(config=config, region="us-east-1")
    report = evaluate(
        [], facts, {"workload-non-root": {"enforcementLevel": "advisory"}, "model-pdb": "disabled"}
    )
    assert report.levels["workload-non-root"] is Level.ADVISORY
    assert report.outcome["model-pdb"] == "disabled"
    assert report.levels["budget-monthly"] is Level.ADVISORY  # aws-dev's budget is advisory
    mandatory = config.model_copy(
        update={"budget": config.budget.model_copy(update={"enforcement": "mandatory"})}
    )
    assert evaluate([], StackFacts(config=mandatory), {}).levels["budget-ceiling"] is Level.MANDATORY


def test_rule_settings_override_the_defaults() -> None:
    bad = {"minSize": 0, "maxSize": 30}
    rule = rule_by_id("pool-max-ceiling")
    report = evaluate(
        [resource("aws:autoscaling/group:Group", bad)],
        StackFacts(config=None),
        {"pool-max-ceiling": {"maxNodes": 50}},
        [rule],
    )
    assert report.verdicts == []
    assert evaluate(
        [resource("aws:autoscaling/group:Group", bad)], StackFacts(config=None), {}, [rule]
    ).verdicts


def test_a_launch_template_must_say_its_root_volume_is_encrypted() -> None:
    from tests.policies.resources import GOOD_LAUNCH_TEMPLATE

    bare = {k: v for k, v in GOOD_LAUNCH_TEMPLATE.items() if k != "blockDeviceMappings"}
    assert messages("encrypted-disks", "aws:ec2/launchTemplate:LaunchTemplate", bare) == [
        "LaunchTemplate sample: no blockDeviceMappings; the root volume is the image's, encrypted only where "
        "its snapshot or the account's EBS default is"
    ]


@pytest.mark.parametrize(
    ("statement", "broad"),
    [
        ({"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}, True),
        ({"Effect": "Allow", "Action": "ssm:*", "Resource": "arn:aws:ssm:us-east-1:1:parameter/*"}, True),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, True),
        (
            {
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "arn:aws:secretsmanager:us-east-1:1:secret:*",
            },
            True,
        ),
        ({"Effect": "Deny", "Action": "ssm:GetParameter", "Resource": "*"}, False),
        (
            {
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": "arn:aws:ssm:us-east-1:1:parameter/llmops/dev/*",
            },
            False,
        ),
        ({"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}, False),
    ],
)
def test_broad_secret_reads(statement: dict, broad: bool) -> None:
    from llmops.policies.rules.security import broad_reads

    from tests.policies.resources import policy_document

    assert bool(broad_reads(policy_document(statement))) is broad


def test_an_argument_expanded_from_the_environment_is_not_a_secret() -> None:
    from tests.policies.resources import changed, container, good_model_deployment

    props = changed(
        good_model_deployment(), lambda p: container(p)["args"].append("--api-key=$(VLLM_API_KEY)")
    )
    assert messages("no-secret-container-args", "kubernetes:apps/v1:Deployment", props) == []
