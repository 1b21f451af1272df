"""Security rules over single resources: instance metadata, disks, ingress, secrets, IAM, pins."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from llmops.policies.rules._base import SECRET_MASK, Category, Level, NotApplicable, Resource, resource_rule
from llmops.policies.rules._walk import (
    HELM_RELEASE,
    WORKLOAD_TYPES,
    Network,
    containers,
    decoded_user_data,
    get,
    is_secret_name,
    is_unknown,
    items,
    literal_secret,
    mapping,
    parse_network,
    pod_templates,
    public_addresses,
    secret_material,
    short,
    truthy,
    walk_strings,
)

AWS_INSTANCE = "aws:ec2/instance:Instance"
AWS_LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"

# --------------------------------------------------------------------------- instance metadata


@resource_rule(
    "aws-imdsv2-required",
    description="Every EC2 instance and launch template requires IMDSv2 session tokens.",
    remediation="Set metadataOptions.httpTokens to 'required' (AwsGpuNodePool and the K3s servers do).",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=(AWS_INSTANCE, AWS_LAUNCH_TEMPLATE),
)
def imdsv2_required(resource: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    options = mapping(resource.props.get("metadataOptions"))
    tokens = options.get("httpTokens")
    if is_unknown(tokens):
        return
    if get(options, "httpEndpoint") == "disabled":
        return  # no metadata service at all is stricter still
    if tokens != "required":
        yield (
            f"{short(resource)}: metadataOptions.httpTokens is {tokens or 'unset'!r}; IMDSv1 answers "
            "any request from the node, so one forged URL fetch reads the role's credentials"
        )


@resource_rule(
    "aws-imds-hop-limit",
    description="Instance metadata answers the node only: a PUT response hop limit of 1.",
    remediation="Set metadataOptions.httpPutResponseHopLimit to 1; pods then cannot reach the node's role.",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=(AWS_INSTANCE, AWS_LAUNCH_TEMPLATE),
    config_schema={"maxHops": {"type": "integer", "minimum": 1, "default": 1}},
)
def imds_hop_limit(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    hops = get(resource.props, "metadataOptions", "httpPutResponseHopLimit")
    if is_unknown(hops):
        return
    limit = int(settings["maxHops"])
    # AWS's default for a launch template without the setting is 1 (2 for some AMIs): demand it written.
    if not isinstance(hops, int) or hops > limit:
        yield (
            f"{short(resource)}: metadataOptions.httpPutResponseHopLimit "
            f"is {hops if hops is not None else 'unset'}"
            f" (at most {limit}); with more hops every pod on the node can take the node's role"
        )


# --------------------------------------------------------------------------- encryption at rest


@resource_rule(
    "encrypted-disks",
    description="Root and data volumes are encrypted at rest.",
    remediation="Set encrypted: true on every block device (rootBlockDevice, ebsBlockDevices, "
    "blockDeviceMappings[].ebs, aws:ebs/volume).",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=(AWS_INSTANCE, AWS_LAUNCH_TEMPLATE, "aws:ebs/volume:Volume"),
)
def encrypted_disks(resource: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    props = resource.props
    devices: list[tuple[str, Any]] = []
    if resource.type == "aws:ebs/volume:Volume":
        devices.append(("encrypted", props.get("encrypted")))
    elif resource.type == AWS_INSTANCE:
        # An instance's root volume exists whether or not rootBlockDevice is written.
        devices.append(("rootBlockDevice.encrypted", get(props, "rootBlockDevice", "encrypted")))
        for i, device in enumerate(items(props.get("ebsBlockDevices"))):
            devices.append((f"ebsBlockDevices[{i}].encrypted", get(device, "encrypted")))
    else:
        for i, mapping_ in enumerate(items(props.get("blockDeviceMappings"))):
            if get(mapping_, "ebs") is not None:
                devices.append((f"blockDeviceMappings[{i}].ebs.encrypted", get(mapping_, "ebs", "encrypted")))
        if not devices and not is_unknown(props.get("blockDeviceMappings")):
            yield (
                f"{short(resource)}: no blockDeviceMappings; the root volume is the image's, encrypted only "
                "where its snapshot or the account's EBS default is"
            )
    for path, value in devices:
        if is_unknown(value):
            continue
        if truthy(value) is not True:
            yield (
                f"{short(resource)}: {path} is "
                f"{value if value is not None else 'unset'}; the disk is not encrypted"
            )


@resource_rule(
    "encrypted-shares",
    description="Shared model storage is encrypted at rest and reached over TLS where the cloud offers it.",
    remediation="EFS: encrypted: true. Azure storage accounts: keep enableHttpsTrafficOnly true and "
    "minimumTlsVersion TLS1_2.",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=("aws:efs/fileSystem:FileSystem", "azure-native:storage:StorageAccount", "aws:fsx/"),
)
def encrypted_shares(resource: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    props = resource.props
    if resource.type == "aws:efs/fileSystem:FileSystem":
        value = props.get("encrypted")
        if not is_unknown(value) and truthy(value) is not True:
            yield (
                f"{short(resource)}: encrypted is "
                f"{value if value is not None else 'unset'}; EFS defaults to plaintext"
            )
    elif resource.type == "azure-native:storage:StorageAccount":
        https = props.get("enableHttpsTrafficOnly")
        if truthy(https) is False:
            yield (
                f"{short(resource)}: enableHttpsTrafficOnly is "
                "false; file shares would be reachable unencrypted"
            )
        tls = props.get("minimumTlsVersion")
        if isinstance(tls, str) and tls in ("TLS1_0", "TLS1_1"):
            yield f"{short(resource)}: minimumTlsVersion is {tls}; use TLS1_2"
    else:
        raise NotApplicable(f"{resource.type} is encrypted by the service")


# --------------------------------------------------------------------------- ingress by address arithmetic


def _ingress_sources(resource: Resource) -> Iterator[tuple[str, int, int, list[str]]]:
    """(where, first port, last port, source ranges) of every inbound allow rule of a firewall resource."""
    props = resource.props
    kind = resource.type
    if kind == "aws:ec2/securityGroup:SecurityGroup":
        for i, rule in enumerate(items(props.get("ingress"))):
            yield (f"ingress[{i}]", *_aws_ports(rule), _aws_ranges(rule))
    elif kind == "aws:ec2/securityGroupRule:SecurityGroupRule":
        if props.get("type") == "ingress":
            yield ("rule", *_aws_ports(props), _aws_ranges(props))
    elif kind == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        ranges = [str(v) for v in (props.get("cidrIpv4"), props.get("cidrIpv6")) if isinstance(v, str)]
        yield ("rule", *_aws_ports(props, protocol_key="ipProtocol"), ranges)
    elif kind == "gcp:compute/firewall:Firewall":
        if props.get("direction", "INGRESS") == "INGRESS":
            for i, allow in enumerate(items(props.get("allows"))):
                ports = items(get(allow, "ports")) or ["0-65535"]
                for port in ports:
                    low, _, high = str(port).partition("-")
                    yield (
                        f"allows[{i}]",
                        int(low),
                        int(high or low),
                        [str(r) for r in items(props.get("sourceRanges"))],
                    )
    elif kind.startswith("azure-native:network:"):
        rules = items(get(props, "securityRules")) if kind.endswith("NetworkSecurityGroup") else [props]
        for i, rule in enumerate(rules):
            if get(rule, "direction") != "Inbound" or get(rule, "access") != "Allow":
                continue
            ranges = [str(get(rule, "sourceAddressPrefix"))] if get(rule, "sourceAddressPrefix") else []
            ranges += [str(r) for r in items(get(rule, "sourceAddressPrefixes"))]
            port_texts = [str(get(rule, "destinationPortRange") or "")] + [
                str(p) for p in items(get(rule, "destinationPortRanges"))
            ]
            for text in filter(None, port_texts):
                if text == "*":
                    yield (f"securityRules[{i}]", 0, 65535, ranges)
                else:
                    low, _, high = text.partition("-")
                    yield (f"securityRules[{i}]", int(low), int(high or low), ranges)


def _aws_ports(rule: Any, protocol_key: str = "protocol") -> tuple[int, int]:
    if str(get(rule, protocol_key)) in ("-1", "all"):
        return 0, 65535
    low, high = get(rule, "fromPort"), get(rule, "toPort")
    low = low if isinstance(low, int) else 0
    high = high if isinstance(high, int) else 65535
    if low == 0 and high == 0:  # AWS writes "all ports" as 0-0 with protocol -1
        return 0, 65535
    return low, high


def _aws_ranges(rule: Any) -> list[str]:
    return [str(r) for r in items(get(rule, "cidrBlocks")) + items(get(rule, "ipv6CidrBlocks"))]


FIREWALL_TYPES = (
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/securityGroupRule:SecurityGroupRule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "gcp:compute/firewall:Firewall",
    "azure-native:network:NetworkSecurityGroup",
    "azure-native:network:SecurityRule",
)


def _exposed(resource: Resource, port: int, max_v4_prefix: int, max_v6_prefix: int) -> Iterator[str]:
    """Rules that open `port` to more internet addresses than one /max_prefix network holds."""
    for where, low, high, ranges in _ingress_sources(resource):
        if not low <= port <= high:
            continue
        networks: list[Network] = []
        for text in ranges:
            network = parse_network(text)
            if network is not None:
                networks.append(network)
        for version, prefix in ((4, max_v4_prefix), (6, max_v6_prefix)):
            bits = 32 if version == 4 else 128
            public = public_addresses(networks, version)
            if public > 2 ** (bits - prefix):
                shown = ", ".join(ranges)
                yield (
                    f"{short(resource)} {where}: port {port} is open "
                    f"to {shown}, {public:,} internet IPv{version} "
                    f"addresses (more than one /{prefix})"
                )


@resource_rule(
    "no-ssh-from-internet",
    description="No firewall rule opens SSH (22) to the internet; ranges are added up, not compared as text.",
    remediation="Reach nodes with Session Manager (aws ssm start-session); or allow 22 from one "
    "office range no wider than the configured prefix.",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=FIREWALL_TYPES,
    config_schema={
        "maxIpv4Prefix": {"type": "integer", "minimum": 0, "maximum": 32, "default": 24},
        "maxIpv6Prefix": {"type": "integer", "minimum": 0, "maximum": 128, "default": 64},
    },
)
def no_ssh_from_internet(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    yield from _exposed(resource, 22, int(settings["maxIpv4Prefix"]), int(settings["maxIpv6Prefix"]))


@resource_rule(
    "no-api-from-internet",
    description="The Kubernetes API (6443) is not open to the internet; ranges are added up, not compared "
    "as text.",
    remediation="List only your networks in llmops:cluster.allowedCidrs (each no wider than the configured "
    "prefix), or reach the API through a VPN or bastion.",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=FIREWALL_TYPES,
    config_schema={
        "maxIpv4Prefix": {"type": "integer", "minimum": 0, "maximum": 32, "default": 16},
        "maxIpv6Prefix": {"type": "integer", "minimum": 0, "maximum": 128, "default": 48},
    },
)
def no_api_from_internet(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    yield from _exposed(resource, 6443, int(settings["maxIpv4Prefix"]), int(settings["maxIpv6Prefix"]))


# --------------------------------------------------------------------------- secrets in plain sight

_SECRET_OPTION = re.compile(r"^--?([A-Za-z0-9][A-Za-z0-9_.-]*)(?:=(.*))?$")


@resource_rule(
    "no-secret-env-values",
    description="Containers take secrets from Kubernetes Secrets, never as literal environment values.",
    remediation="Put the value in a Secret and use env[].valueFrom.secretKeyRef (VllmModel: "
    "hfTokenSecret for HF_TOKEN).",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=WORKLOAD_TYPES,
)
def no_secret_env_values(resource: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for where, template in pod_templates(resource):
        for path, container in containers(mapping(template.get("spec"))):
            for i, env in enumerate(items(container.get("env"))):
                name = str(get(env, "name") or "")
                value = get(env, "value")
                if not isinstance(value, str) or not value:
                    continue
                material = secret_material(value)
                if material or (is_secret_name(name) and literal_secret(value)):
                    what = material or "a secret"
                    yield (
                        f"{short(resource)} {where}spec.{path}.env[{i}] "
                        f"({name}): the literal value is {what}, "
                        "readable by anyone who can read the workload"
                    )


@resource_rule(
    "no-secret-container-args",
    description="No container argument or command carries a secret (an --api-key, a token, a key).",
    remediation="Pass the secret as an environment variable from a Secret (vLLM reads VLLM_API_KEY and "
    "HF_TOKEN); drop the option from extraArgs.",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=WORKLOAD_TYPES,
)
def no_secret_container_args(resource: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for where, template in pod_templates(resource):
        for path, container in containers(mapping(template.get("spec"))):
            words = [str(w) for w in items(container.get("command")) + items(container.get("args"))]
            for i, word in enumerate(words):
                material = secret_material(word)
                if material:
                    yield f"{short(resource)} {where}spec.{path}: an argument is {material}"
                    continue
                option = _SECRET_OPTION.match(word)
                if option and is_secret_name(option[1]):
                    value = (
                        option[2] if option[2] is not None else (words[i + 1] if i + 1 < len(words) else "")
                    )
                    if value and not value.startswith("$("):  # $(VAR) expands from env, e.g. a secretKeyRef
                        yield (
                            f"{short(resource)} {where}spec.{path}: option {word.split('=', 1)[0]} carries a "
                            "secret in plaintext in the pod spec"
                        )


@resource_rule(
    "no-secret-helm-values",
    description="Helm values hold no literal passwords, tokens or keys; charts take them from a Secret.",
    remediation="Create a Kubernetes Secret (from a Pulumi secret) and point the chart at it "
    "(existingSecret, admin.existingSecret, ...).",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=(HELM_RELEASE, "kubernetes:helm.sh/v4:Chart"),
)
def no_secret_helm_values(resource: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for path, key, value in walk_strings(mapping(resource.props.get("values")), "values"):
        if not isinstance(value, str):
            continue
        material = secret_material(value)
        if material:
            yield f"{short(resource)}: {path} is {material}"
        elif is_secret_name(str(key)) and literal_secret(value):
            yield f"{short(resource)}: {path} is a literal secret; Helm keeps values readable in the release"


@resource_rule(
    "no-secret-in-configmaps",
    description="ConfigMaps carry no credentials.",
    remediation="Move the value to a Secret and mount or reference that instead.",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=("kubernetes:core/v1:ConfigMap",),
)
def no_secret_in_configmaps(resource: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for key, value in mapping(resource.props.get("data")).items():
        if not isinstance(value, str):
            continue
        material = secret_material(value)
        if material:
            yield f"{short(resource)}: data.{key} contains {material}"
        elif is_secret_name(str(key)) and literal_secret(value):
            yield f"{short(resource)}: data.{key} looks like a secret by its name"


@resource_rule(
    "no-secret-in-user-data",
    description="Instance user data carries no credentials: nodes fetch their secrets at boot.",
    remediation="Store the secret in Parameter Store (SecureString) or the cloud's secret store and fetch "
    "it from the bootstrap script, as the K3s bootstrap does for its tokens and keys.",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=(
        AWS_INSTANCE,
        AWS_LAUNCH_TEMPLATE,
        "gcp:compute/instanceTemplate:InstanceTemplate",
        "gcp:compute/instance:Instance",
    ),
)
def no_secret_in_user_data(resource: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    props = resource.props
    text = decoded_user_data(props.get("userData"))
    text += decoded_user_data(get(props, "metadata", "user-data"))
    text += decoded_user_data(props.get("metadataStartupScript"))
    material = secret_material(text)
    if material:
        yield (
            f"{short(resource)}: user data contains {material}; anyone who can describe the instance reads it"
        )
    for line in text.splitlines():
        match = re.match(r"^\s*(token|agent-token|password)\s*:\s*(\S+)", line)
        if match and not match[2].startswith(("$", '"$', "'$")):
            yield f"{short(resource)}: user data sets {match[1]} to a literal value"


@resource_rule(
    "aws-ssm-secure-string",
    description="Parameter Store entries that hold secrets (tokens, keys, passwords) are SecureString.",
    remediation="Set type: SecureString (encrypted with KMS; reads need kms:Decrypt as well as the "
    "parameter's ARN).",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=("aws:ssm/parameter:Parameter",),
)
def aws_ssm_secure_string(resource: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    props = resource.props
    kind = props.get("type")
    if kind == "SecureString" or is_unknown(kind):
        return
    name = str(props.get("name") or resource.name)
    leaf = name.rstrip("/").rsplit("/", 1)[-1]
    value = props.get("value")
    secret_value = isinstance(value, str) and (value == SECRET_MASK or secret_material(value) is not None)
    if is_secret_name(leaf) or leaf.endswith((".key", "-key", "_key")) or secret_value:
        kind_text = kind or "String"
        yield f"{short(resource)}: {name} is a {kind_text} parameter; anyone with ssm:GetParameter reads it"


# --------------------------------------------------------------------------- IAM

_READ_ACTIONS = (
    "ssm:getparameter",
    "ssm:getparameters",
    "ssm:getparametersbypath",
    "ssm:getparameterhistory",
    "secretsmanager:getsecretvalue",
)

# AWS-managed policies whose documents allow parameter or secret reads on every resource
# (their JSON as published in the AWS Managed Policy Reference Guide).
BROAD_MANAGED_POLICIES: dict[str, str] = {
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore": "ssm:GetParameter and ssm:GetParameters on *",
    "arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess": "ssm:Get* on *",
    "arn:aws:iam::aws:policy/AmazonSSMFullAccess": "ssm:* on *",
    "arn:aws:iam::aws:policy/ReadOnlyAccess": "ssm:Get* on *",
    "arn:aws:iam::aws:policy/PowerUserAccess": "every action but IAM on *",
    "arn:aws:iam::aws:policy/AdministratorAccess": "* on *",
    "arn:aws:iam::aws:policy/SecretsManagerReadWrite": "secretsmanager:* on *",
}


def _action_reads(action: str) -> bool:
    pattern = re.compile("^" + re.escape(action.lower()).replace(r"\*", ".*").replace(r"\?", ".") + "$")
    return any(pattern.match(read) for read in _READ_ACTIONS)


def _broad_resource(resource: str) -> bool:
    """`*`, or a parameter/secret ARN named by a wildcard near the root (`parameter/*`, `parameter/a*`)."""
    if resource == "*":
        return True
    _, _, name = (
        resource.partition(":parameter/") if ":parameter/" in resource else resource.partition(":secret:")
    )
    if not name:
        return resource.endswith(":*") or resource.split(":")[-1] == "*"
    head = name.split("*", 1)[0]
    return "*" in name and head.count("/") < 2


def broad_reads(document: Any) -> list[str]:
    """Statements of an IAM policy document that allow parameter or secret reads on broad resources."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    found = []
    statements = get(document, "Statement")
    for i, statement in enumerate(statements if isinstance(statements, list) else [statements]):
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else [str(a) for a in actions]
        if "NotAction" in statement:
            actions = ["*"]  # everything but a list: assume it still reads
        if not any(_action_reads(a) for a in actions):
            continue
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else [str(r) for r in resources]
        if "NotResource" in statement or any(_broad_resource(r) for r in resources):
            sid = statement.get("Sid") or f"Statement[{i}]"
            found.append(f"{sid} allows {', '.join(actions)} on {', '.join(resources) or 'NotResource'}")
    return found


@resource_rule(
    "aws-no-broad-secret-reads",
    description="No IAM role may read parameters or secrets beyond its own: no ssm:GetParameter* or "
    "secretsmanager:GetSecretValue on * (inline or through a managed policy).",
    remediation="Grant reads on the exact parameter ARNs the node needs (ReadBootstrapSecrets does); for "
    "Session Manager use a policy without parameter reads instead of AmazonSSMManagedInstanceCore.",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=(
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/policy:Policy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/role:Role",
    ),
)
def aws_no_broad_secret_reads(resource: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    props = resource.props
    if resource.type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
        arn = props.get("policyArn")
        if isinstance(arn, str) and arn in BROAD_MANAGED_POLICIES:
            yield (
                f"{short(resource)}: attaches {arn.rsplit('/', 1)[-1]}, which allows "
                f"{BROAD_MANAGED_POLICIES[arn]}: the role reads every parameter in the account"
            )
        return
    if resource.type == "aws:iam/role:Role":
        for arn in items(props.get("managedPolicyArns")):
            if arn in BROAD_MANAGED_POLICIES:
                yield (
                    f"{short(resource)}: managedPolicyArns has "
                    f"{arn.rsplit('/', 1)[-1]} ({BROAD_MANAGED_POLICIES[arn]})"
                )
        for policy in items(props.get("inlinePolicies")):
            for finding in broad_reads(get(policy, "policy")):
                yield f"{short(resource)}: inline policy {get(policy, 'name')}: {finding}"
        return
    for finding in broad_reads(props.get("policy")):
        yield f"{short(resource)}: {finding}"


# --------------------------------------------------------------------------- pins

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def image_problem(image: str) -> str | None:
    """Why an image reference is not pinned, or None: a tag other than latest, or a digest."""
    if _DIGEST.search(image):
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag (pulls latest)"
    tag = last.rsplit(":", 1)[1]
    if tag in ("latest", "main", "master", "nightly", "edge", "stable", ""):
        return f"uses the moving tag {tag!r}"
    return None


@resource_rule(
    "images-pinned",
    description="Every container image is pinned by a version tag or a digest, never latest.",
    remediation="Name an exact version (vllm/vllm-openai:v0.x.y) or a digest (image@sha256:...).",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=(*WORKLOAD_TYPES, HELM_RELEASE),
)
def images_pinned(resource: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if resource.type == HELM_RELEASE:
        for path, key, value in walk_strings(mapping(resource.props.get("values")), "values"):
            if key == "tag" and isinstance(value, str) and value in ("latest", "main", "nightly"):
                yield f"{short(resource)}: {path} is the moving tag {value!r}"
            if key == "image" and isinstance(value, str) and "/" in value:
                problem = image_problem(value)
                if problem:
                    yield f"{short(resource)}: {path} {value} {problem}"
        return
    for where, template in pod_templates(resource):
        for path, container in containers(mapping(template.get("spec"))):
            image = container.get("image")
            if not isinstance(image, str) or is_unknown(image):
                continue
            problem = image_problem(image)
            if problem:
                yield f"{short(resource)} {where}spec.{path}: image {image} {problem}"


_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")


@resource_rule(
    "helm-chart-pinned",
    description="Every Helm release names an exact chart version.",
    remediation="Set version to a released chart version (x.y.z) beside the chart and its repository.",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=(HELM_RELEASE, "kubernetes:helm.sh/v4:Chart"),
)
def helm_chart_pinned(resource: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    version = resource.props.get("version")
    if is_unknown(version):
        return
    chart = resource.props.get("chart")
    if not isinstance(version, str) or not _EXACT_VERSION.match(version):
        yield (
            f"{short(resource)}: chart {chart} has version "
            f"{version or 'unset'!r}; installs whatever is newest"
        )
