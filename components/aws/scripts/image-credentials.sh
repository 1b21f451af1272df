#!/usr/bin/env bash
# AWS part of the node bootstrap, continued (appended to cloud.sh): the kubelet's ECR credential
# provider, so the agents pull the stack's ECR images with their instance role and no pull secret.
# The role may pull from the stack's one repository only (components/aws/registry.py).

# ecr-credential-provider of kubernetes/cloud-provider-aws as the Kubernetes project publishes it
# (artifacts.k8s.io). The SHA-256 is the one in the project's promotion manifest,
# kubernetes/k8s.io artifacts/manifests/k8s-staging-provider-aws/v1.31.7.yaml (kops pins the same).
# v1.31.7 is the newest release published there; the plugin speaks the kubelet's stable
# credentialprovider.kubelet.k8s.io/v1 API, which the pinned K3s's kubelet reads.
AWS_ECR_PROVIDER_VERSION=v1.31.7
AWS_ECR_PROVIDER_URL="https://artifacts.k8s.io/binaries/cloud-provider-aws/${AWS_ECR_PROVIDER_VERSION}/linux/amd64/ecr-credential-provider-linux-amd64"
AWS_ECR_PROVIDER_SHA256=7644623e4ec9ad443ab352a8a5800a5180ee28741288be805286ba72bb8e7164

# The host of this account's registry in the machine's region, the only one the provider serves:
# <account>.dkr.ecr.<region>.amazonaws.com (.amazonaws.com.cn in the China regions).
aws_registry_host() {
  local info account region suffix=amazonaws.com
  info=$(aws_imds_get identity-credentials/ec2/info) || return 1
  account=$(printf '%s' "$info" | python3 -c 'import json, sys; print(json.load(sys.stdin)["AccountId"])') ||
    return 1
  region=$(aws_imds_get placement/region) || return 1
  case "$region" in
    cn-*) suffix=amazonaws.com.cn ;;
  esac
  printf '%s.dkr.ecr.%s.%s\n' "$account" "$region" "$suffix"
}

cloud_image_credentials() {
  local host
  host=$(aws_registry_host) || die "cannot read the account and region from instance metadata"
  install_credential_provider ecr-credential-provider "$AWS_ECR_PROVIDER_URL" "$AWS_ECR_PROVIDER_SHA256"
  # An ECR token lasts 12 hours; the provider says so in its answer, the cache duration is the fallback.
  write_credential_provider_config ecr-credential-provider "$host" 12h
  log "ECR credential provider ${AWS_ECR_PROVIDER_VERSION} for ${host}"
}
