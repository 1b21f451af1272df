"""Synthetic resources for the policy tests: one good resource per kind, and helpers to break one thing."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from llmops.policies.rules import Resource

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def resource(type_: str, props: dict[str, Any], name: str = "sample") -> Resource:
    return Resource(type_, f"urn:pulumi:test::llmops::{type_}::{name}", name, props)


def good_model_deployment(name: str = "m") -> dict[str, Any]:
    """A serving Deployment that passes every workload and probe rule."""
    labels = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": name, "llmops.io/model": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "serving", "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app.kubernetes.io/instance": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 2000,
                        "fsGroup": 2000,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [
                                    {
                                        "matchExpressions": [
                                            {"key": "llmops.io/pool", "operator": "In", "values": ["l4"]}
                                        ]
                                    }
                                ]
                            }
                        }
                    },
                    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                    "containers": [
                        {
                            "name": "vllm",
                            "image": "vllm/vllm-openai:v0.10.1",
                            "args": [
                                "Qwen/Qwen2.5-0.5B-Instruct",
                                "--port",
                                "8000",
                                "--max-model-len",
                                "8192",
                            ],
                            "env": [
                                {"name": "HF_HOME", "value": "/cache/huggingface"},
                                {
                                    "name": "HF_TOKEN",
                                    "valueFrom": {"secretKeyRef": {"name": "hf", "key": "HF_TOKEN"}},
                                },
                            ],
                            "resources": {
                                "limits": {"nvidia.com/gpu": "1"},
                                "requests": {"nvidia.com/gpu": "1"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "readinessProbe": {
                                "httpGet": {"path": "/health", "port": 8000},
                                "periodSeconds": 1,
                                "failureThreshold": 2,
                            },
                            "livenessProbe": {
                                "httpGet": {"path": "/health", "port": 8000},
                                "periodSeconds": 2,
                                "failureThreshold": 2,
                                "timeoutSeconds": 1,
                            },
                            "startupProbe": {
                                "httpGet": {"path": "/health", "port": 8000},
                                "periodSeconds": 5,
                                "failureThreshold": 240,
                            },
                        }
                    ],
                },
            },
        },
    }


def changed(props: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    copied = copy.deepcopy(props)
    edit(copied)
    return copied


def pod(props: dict[str, Any]) -> dict[str, Any]:
    return props["spec"]["template"]["spec"]


def container(props: dict[str, Any]) -> dict[str, Any]:
    return pod(props)["containers"][0]


GOOD_LAUNCH_TEMPLATE: dict[str, Any] = {
    "blockDeviceMappings": [{"deviceName": "/dev/sda1", "ebs": {"encrypted": "true", "volumeSize": 200}}],
    "metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1},
    "userData": "I2Nsb3VkLWNvbmZpZwpydW5jbWQ6IFtlY2hvLCBoZWxsb10K",  # "#cloud-config\nruncmd: [echo, hello]\n"
}
GOOD_INSTANCE: dict[str, Any] = {
    "instanceType": "m7i.large",
    "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1},
    "rootBlockDevice": {"encrypted": True, "volumeSize": 50},
    "userData": "#cloud-config\nruncmd: [echo, hello]\n",
}


def security_group(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"description": "test", "ingress": list(rules), "egress": []}


def tcp(port: int, *cidrs: str, to_port: int | None = None) -> dict[str, Any]:
    return {"protocol": "tcp", "fromPort": port, "toPort": to_port or port, "cidrBlocks": list(cidrs)}


def helm_release(chart: str, values: dict[str, Any], version: str = "1.2.3") -> dict[str, Any]:
    return {"chart": chart, "version": version, "name": chart, "namespace": "monitoring", "values": values}


def policy_document(*statements: dict[str, Any]) -> str:
    import json

    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
