#!/usr/bin/env bash
# AWS part of the node bootstrap, sourced by lib.sh (components/k3s/scripts/): secrets from SSM
# Parameter Store, the public address and the provider id from the instance metadata service
# (IMDSv2).

# Read one value from the EC2 instance metadata service, IMDSv2 only (session token first).
# Prints nothing and returns 1 when the path does not exist (e.g. no public IPv4).
aws_imds_get() {
  local path=$1 token
  token=$(curl -fsS -X PUT 'http://169.254.169.254/latest/api/token' \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 300') || return 1
  curl -fsS -H "X-aws-ec2-metadata-token: ${token}" "http://169.254.169.254/latest/meta-data/${path}"
}

cloud_prepare_secrets() {
  command -v aws >/dev/null 2>&1 && return 0
  # Ubuntu's cloud images ship snapd but not the AWS CLI; the Deep Learning AMIs ship both.
  log "installing the AWS CLI"
  snap install aws-cli --classic >/dev/null || die "cannot install the AWS CLI"
  export PATH="/snap/bin:${PATH}"
}

# Print one SecureString parameter; the CLI writes it straight to stdout, never to a log.
cloud_read_secret() {
  local locator=$1 region
  region=$(aws_imds_get placement/region) || die "cannot read the region from instance metadata"
  if ! aws ssm get-parameter --region "$region" --name "$locator" --with-decryption \
    --query Parameter.Value --output text; then
    log "cannot read SSM parameter ${locator}"
    return 1
  fi
}

cloud_external_ip() {
  aws_imds_get public-ipv4
}

# The id the AWS cloud provider and cluster-autoscaler expect: aws:///<zone>/<instance id>.
cloud_provider_id() {
  local zone id
  zone=$(aws_imds_get placement/availability-zone) || return 1
  id=$(aws_imds_get instance-id) || return 1
  printf 'aws:///%s/%s\n' "$zone" "$id"
}
