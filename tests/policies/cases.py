"""One passing and one failing synthetic resource for every resource rule, with the message expected."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.policies.resources import (
    DEPLOYMENT,
    GOOD_INSTANCE,
    GOOD_LAUNCH_TEMPLATE,
    changed,
    container,
    good_model_deployment,
    helm_release,
    pod,
    policy_document,
    security_group,
    tcp,
)

LT = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
SG = "aws:ec2/securityGroup:SecurityGroup"
HELM = "kubernetes:helm.sh/v3:Release"
GOOD = good_model_deployment()


@dataclass(frozen=True)
class Case:
    rule: str
    type: str
    good: dict[str, Any]
    bad: dict[str, Any]
    message: str

    @property
    def id(self) -> str:
        return self.rule


def _set(path: str, value: Any):
    def edit(props: dict[str, Any]) -> None:
        *head, last = path.split(".")
        target = props
        for key in head:
            target = target[key]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value

    return edit


_DELETE = object()

RESOURCE_CASES = [
    Case(
        "aws-imdsv2-required",
        LT,
        GOOD_LAUNCH_TEMPLATE,
        changed(GOOD_LAUNCH_TEMPLATE, _set("metadataOptions.httpTokens", "optional")),
        "LaunchTemplate sample: metadataOptions.httpTokens is 'optional'; IMDSv1 answers any request from the node",
    ),
    Case(
        "aws-imds-hop-limit",
        INSTANCE,
        GOOD_INSTANCE,
        changed(GOOD_INSTANCE, _set("metadataOptions.httpPutResponseHopLimit", 2)),
        "Instance sample: metadataOptions.httpPutResponseHopLimit is 2 (at most 1)",
    ),
    Case(
        "encrypted-disks",
        INSTANCE,
        GOOD_INSTANCE,
        changed(GOOD_INSTANCE, _set("rootBlockDevice.encrypted", _DELETE)),
        "Instance sample: rootBlockDevice.encrypted is unset; the disk is not encrypted",
    ),
    Case(
        "encrypted-shares",
        "aws:efs/fileSystem:FileSystem",
        {"encrypted": True},
        {"performanceMode": "generalPurpose"},
        "FileSystem sample: encrypted is unset; EFS defaults to plaintext",
    ),
    Case(
        "no-ssh-from-internet",
        SG,
        security_group(tcp(22, "198.51.100.7/32"), tcp(443, "0.0.0.0/0")),
        # Two halves of the internet: no single rule says 0.0.0.0/0.
        security_group(tcp(20, "0.0.0.0/1", "128.0.0.0/1", to_port=25)),
        "SecurityGroup sample ingress[0]: port 22 is open to 0.0.0.0/1, 128.0.0.0/1",
    ),
    Case(
        "no-api-from-internet",
        SG,
        security_group(tcp(6443, "10.0.0.0/8", "198.51.100.0/24")),
        security_group({"protocol": "-1", "fromPort": 0, "toPort": 0, "ipv6CidrBlocks": ["::0/0"]}),
        "SecurityGroup sample ingress[0]: port 6443 is open to ::0/0",
    ),
    Case(
        "no-secret-env-values",
        DEPLOYMENT,
        GOOD,
        changed(GOOD, lambda p: container(p)["env"].append({"name": "VLLM_API_KEY", "value": "sk-live-123"})),
        "Deployment sample spec.template.spec.containers[0].env[2] (VLLM_API_KEY): the literal value is a secret",
    ),
    Case(
        "no-secret-container-args",
        DEPLOYMENT,
        GOOD,
        changed(GOOD, lambda p: container(p)["args"].extend(["--api-key", "hunter2"])),
        "Deployment sample spec.template.spec.containers[0]: option --api-key carries a secret in plaintext",
    ),
    Case(
        "no-secret-helm-values",
        HELM,
        helm_release(
            "kube-prometheus-stack",
            {"grafana": {"admin": {"existingSecret": "grafana", "passwordKey": "pw"}}},
        ),
        helm_release("kube-prometheus-stack", {"grafana": {"adminPassword": "prom-operator"}}),
        "Release sample: values.grafana.adminPassword is a literal secret",
    ),
    Case(
        "no-secret-in-configmaps",
        "kubernetes:core/v1:ConfigMap",
        {"data": {"probe.py": "print('ok')"}},
        {"data": {"id_rsa": "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"}},
        "ConfigMap sample: data.id_rsa contains a private key",
    ),
    Case(
        "no-secret-in-user-data",
        LT,
        GOOD_LAUNCH_TEMPLATE,
        changed(
            GOOD_LAUNCH_TEMPLATE,
            _set("userData", "#cloud-config\nwrite_files:\n- content: |\n    token: s3cr3t\n"),
        ),
        "LaunchTemplate sample: user data sets token to a literal value",
    ),
    Case(
        "aws-ssm-secure-string",
        "aws:ssm/parameter:Parameter",
        {"name": "/llmops/dev/servers/server-ca.key", "type": "SecureString", "value": "[secret]"},
        {"name": "/llmops/dev/pools/l4/agent-token", "type": "String", "value": "[secret]"},
        "Parameter sample: /llmops/dev/pools/l4/agent-token is a String parameter; anyone with ssm:GetParameter reads it",
    ),
    Case(
        "aws-no-broad-secret-reads",
        "aws:iam/rolePolicy:RolePolicy",
        {
            "policy": policy_document(
                {
                    "Sid": "Own",
                    "Effect": "Allow",
                    "Action": ["ssm:GetParameter"],
                    "Resource": ["arn:aws:ssm:us-east-1:1:parameter/llmops/dev/pools/a/agent-token"],
                }
            )
        },
        {
            "policy": policy_document(
                {
                    "Sid": "All",
                    "Effect": "Allow",
                    "Action": "ssm:Get*",
                    "Resource": "arn:aws:ssm:*:*:parameter/*",
                }
            )
        },
        "RolePolicy sample: All allows ssm:Get* on arn:aws:ssm:*:*:parameter/*",
    ),
    Case(
        "images-pinned",
        DEPLOYMENT,
        GOOD,
        changed(GOOD, lambda p: container(p).update(image="vllm/vllm-openai:latest")),
        "Deployment sample spec.template.spec.containers[0]: image vllm/vllm-openai:latest uses the moving tag 'latest'",
    ),
    Case(
        "helm-chart-pinned",
        HELM,
        helm_release("loki", {}, version="18.11.0"),
        helm_release("loki", {}, version=">=18"),
        "Release sample: chart loki has version '>=18'; installs whatever is newest",
    ),
    Case(
        "workload-non-root",
        DEPLOYMENT,
        GOOD,
        changed(GOOD, lambda p: pod(p)["securityContext"].update(runAsUser=0)),
        "Deployment sample spec.template.spec.containers[0] (vllm): may run as root (UID 0)",
    ),
    Case(
        "workload-read-only-root",
        DEPLOYMENT,
        GOOD,
        changed(GOOD, lambda p: container(p)["securityContext"].pop("readOnlyRootFilesystem")),
        "Deployment sample spec.template.spec.containers[0] (vllm): root filesystem is writable",
    ),
    Case(
        "workload-seccomp",
        DEPLOYMENT,
        GOOD,
        changed(GOOD, lambda p: pod(p)["securityContext"].update(seccompProfile={"type": "Unconfined"})),
        "Deployment sample spec.template.spec.containers[0] (vllm): seccomp profile is Unconfined",
    ),
    Case(
        "workload-no-token-mount",
        DEPLOYMENT,
        GOOD,
        changed(GOOD, lambda p: pod(p).pop("automountServiceAccountToken")),
        "Deployment sample spec.template.spec.automountServiceAccountToken is unset; a compromised process gets an API token",
    ),
    Case(
        "workload-not-privileged",
        DEPLOYMENT,
        GOOD,
        changed(GOOD, lambda p: pod(p).update(hostNetwork=True)),
        "Deployment sample spec.template.spec.hostNetwork is true",
    ),
    Case(
        "workload-no-privilege-escalation",
        DEPLOYMENT,
        GOOD,
        changed(GOOD, lambda p: container(p)["securityContext"].update(capabilities={"drop": ["NET_RAW"]})),
        "Deployment sample spec.template.spec.containers[0] (vllm): capabilities.drop lacks ALL",
    ),
    Case(
        "helm-privileges-allow-listed",
        HELM,
        # The termination handler is allow-listed: it reads instance metadata from the host network.
        helm_release(
            "oci://public.ecr.aws/aws-ec2/helm/aws-node-termination-handler", {"useHostNetwork": True}
        ),
        helm_release("my-exporter", {"hostNetwork": True}),
        "Release sample: values.hostNetwork is True but chart my-exporter is not allow-listed",
    ),
    Case(
        "model-readiness-probe",
        DEPLOYMENT,
        GOOD,
        changed(GOOD, lambda p: container(p)["readinessProbe"].update(periodSeconds=5)),
        "Deployment sample spec.template.spec.containers[0]: readinessProbe takes 5 s x 2 = 10 s to notice a dead replica (bound 2 s)",
    ),
    Case(
        "model-liveness-probe",
        DEPLOYMENT,
        GOOD,
        changed(GOOD, lambda p: container(p).pop("livenessProbe")),
        "Deployment sample spec.template.spec.containers[0]: no livenessProbe; a wedged server is never restarted",
    ),
    Case(
        "model-startup-probe",
        DEPLOYMENT,
        GOOD,
        changed(GOOD, lambda p: container(p)["startupProbe"].update(failureThreshold=3)),
        "Deployment sample spec.template.spec.containers[0]: startupProbe allows 5 s x 3 = 15 s to load (at least 60 s)",
    ),
    Case(
        "pool-max-ceiling",
        "aws:autoscaling/group:Group",
        {"minSize": 0, "maxSize": 4},
        {"minSize": 0, "maxSize": 400},
        "Group sample: maxSize is 400, above the ceiling of 20 machines",
    ),
]
