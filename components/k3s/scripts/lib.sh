#!/usr/bin/env bash
# Functions shared by server.sh and agent.sh. Sourced, never run on its own.
#
# Every step is safe to repeat: a reboot or a re-run of cloud-init's scripts leaves the node
# as it was. Files are written to a temporary name in the same folder and renamed, so K3s
# never reads half a file.

LLMOPS_ETC=/etc/llmops
K3S_ETC=/etc/rancher/k3s

log() {
  printf '%s llmops-bootstrap: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
}

die() {
  log "error: $*"
  exit 1
}

# Read one value from the EC2 instance metadata service, IMDSv2 only (session token first).
# Prints nothing and returns 1 when the path does not exist (e.g. no public IPv4).
aws_imds_get() {
  local path=$1 token
  token=$(curl -fsS -X PUT 'http://169.254.169.254/latest/api/token' \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 300') || return 1
  curl -fsS -H "X-aws-ec2-metadata-token: ${token}" "http://169.254.169.254/latest/meta-data/${path}"
}

# Write stdin to $1 with mode $2, atomically.
write_atomic() {
  local dest=$1 mode=$2 tmp
  mkdir -p "$(dirname "$dest")"
  tmp=$(mktemp "${dest}.XXXXXX")
  chmod "$mode" "$tmp"
  cat >"$tmp"
  mv -f "$tmp" "$dest"
}

ensure_aws_cli() {
  command -v aws >/dev/null 2>&1 && return 0
  # Ubuntu's cloud images ship snapd but not the AWS CLI; the Deep Learning AMIs ship both.
  log "installing the AWS CLI"
  snap install aws-cli --classic >/dev/null || die "cannot install the AWS CLI"
  export PATH="/snap/bin:${PATH}"
}

# Fetch one secret from the cloud's secret store into a file. The value never appears on a
# command line or in a log: the CLI prints it straight into the temporary file.
fetch_secret() {
  local locator=$1 dest=$2 mode=$3
  case "${LLMOPS_SECRET_BACKEND:-}" in
    aws-ssm)
      local region tmp
      region=$(aws_imds_get placement/region) || die "cannot read the region from instance metadata"
      mkdir -p "$(dirname "$dest")"
      tmp=$(mktemp "${dest}.XXXXXX")
      chmod "$mode" "$tmp"
      if ! aws ssm get-parameter --region "$region" --name "$locator" --with-decryption \
        --query Parameter.Value --output text >"$tmp"; then
        rm -f "$tmp"
        die "cannot read SSM parameter ${locator}"
      fi
      mv -f "$tmp" "$dest"
      ;;
    *)
      die "unknown secret backend '${LLMOPS_SECRET_BACKEND:-}' (supported: aws-ssm)"
      ;;
  esac
}

# secrets.list: one secret a line, "<locator> <destination path> <octal mode>".
fetch_all_secrets() {
  local list=$1 locator dest mode
  [ -f "$list" ] || die "missing ${list}"
  if [ "${LLMOPS_SECRET_BACKEND:-}" = aws-ssm ]; then
    ensure_aws_cli
  fi
  while read -r locator dest mode; do
    [ -n "$locator" ] || continue
    fetch_secret "$locator" "$dest" "$mode"
    log "placed ${dest}"
  done <"$list"
}

# K3s reads drop-ins from config.yaml.d after config.yaml; the external address is only known
# on the machine (a cloud's public IP), so it is written here rather than rendered in advance.
write_external_ip() {
  local address=${LLMOPS_NODE_EXTERNAL_IP:-}
  case "$address" in
    "") return 0 ;;
    aws-imds)
      address=$(aws_imds_get public-ipv4) || {
        log "no public IPv4 in instance metadata; not setting node-external-ip"
        return 0
      }
      ;;
  esac
  printf 'node-external-ip: "%s"\n' "$address" | write_atomic "${K3S_ETC}/config.yaml.d/50-external-ip.yaml" 0644
}

# cluster-autoscaler finds a node's group by its providerID; K3s would set k3s://<name>, which
# matches none. The kubelet takes the cloud's form as a flag, known only on the machine.
write_provider_id() {
  local provider_id
  case "${LLMOPS_PROVIDER_ID:-}" in
    "") return 0 ;;
    aws-imds)
      local zone instance
      zone=$(aws_imds_get placement/availability-zone) || die "cannot read the zone from instance metadata"
      instance=$(aws_imds_get instance-id) || die "cannot read the instance id from instance metadata"
      provider_id="aws:///${zone}/${instance}"
      ;;
    *)
      die "unknown provider id source '${LLMOPS_PROVIDER_ID}' (supported: aws-imds)"
      ;;
  esac
  # 'kubelet-arg+' appends to any kubelet-arg of config.yaml instead of replacing it.
  printf 'kubelet-arg+:\n  - "provider-id=%s"\n' "$provider_id" \
    | write_atomic "${K3S_ETC}/config.yaml.d/50-provider-id.yaml" 0644
}

installed_k3s_version() {
  command -v k3s >/dev/null 2>&1 || return 0
  k3s --version 2>/dev/null | awk 'NR == 1 { print $3 }'
}

# Install K3s at the pinned version, or only make sure the service runs when it is there.
install_k3s() {
  local role=$1 unit=k3s installer
  [ "$role" = agent ] && unit=k3s-agent
  [ -n "${K3S_VERSION:-}" ] || die "K3S_VERSION is not set"
  if [ "$(installed_k3s_version)" = "$K3S_VERSION" ]; then
    log "K3s ${K3S_VERSION} already installed; starting ${unit}"
    systemctl enable --now "$unit"
    return 0
  fi
  installer=$(mktemp)
  # The installer of the same tag as the binary ('+' is %2B in a URL).
  curl -fsSL --retry 5 --retry-connrefused -o "$installer" \
    "https://raw.githubusercontent.com/k3s-io/k3s/${K3S_VERSION//+/%2B}/install.sh" \
    || die "cannot download the K3s ${K3S_VERSION} installer"
  log "installing K3s ${K3S_VERSION} as ${role}"
  INSTALL_K3S_VERSION="$K3S_VERSION" INSTALL_K3S_EXEC="$role" sh "$installer"
  rm -f "$installer"
}

load_bootstrap_env() {
  [ -f "${LLMOPS_ETC}/bootstrap.env" ] || die "missing ${LLMOPS_ETC}/bootstrap.env"
  # shellcheck source=/dev/null
  . "${LLMOPS_ETC}/bootstrap.env"
}
