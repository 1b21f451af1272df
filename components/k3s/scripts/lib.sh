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

# Write stdin to $1 with mode $2, atomically.
write_atomic() {
  local dest=$1 mode=$2 tmp
  mkdir -p "$(dirname "$dest")"
  tmp=$(mktemp "${dest}.XXXXXX")
  chmod "$mode" "$tmp"
  cat >"$tmp"
  mv -f "$tmp" "$dest"
}

# The cloud's fragment (cloud.sh beside this file) replaces these five. Without one, a node
# that needs a secret, its external address or its provider id goes on without it or stops
# with a clear message.
cloud_prepare_secrets() {
  return 0
}

cloud_read_secret() {
  log "no cloud bootstrap fragment (cloud.sh) is installed; cannot read $1"
  return 1
}

cloud_external_ip() {
  return 1
}

cloud_provider_id() {
  return 1
}

# Install the cloud's kubelet image credential provider (the kit's registry); none by default.
cloud_image_credentials() {
  return 0
}

# Take one free address of the reserved set $1 for this machine (clouds that assign it natively
# need no claim and keep this default).
cloud_claim_address() {
  log "the cloud fragment cannot claim an address of set $1"
  return 1
}

_llmops_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -f "${_llmops_lib_dir}/cloud.sh" ]; then
  # shellcheck source=/dev/null
  . "${_llmops_lib_dir}/cloud.sh"
fi

# Fetch one secret from the cloud's secret store into a file. The value never appears on a
# command line or in a log: the cloud's reader prints it straight into the temporary file.
fetch_secret() {
  local locator=$1 dest=$2 mode=$3 tmp
  mkdir -p "$(dirname "$dest")"
  tmp=$(mktemp "${dest}.XXXXXX")
  chmod "$mode" "$tmp"
  if ! cloud_read_secret "$locator" >"$tmp"; then
    rm -f "$tmp"
    die "cannot fetch secret ${locator} (cloud: ${LLMOPS_CLOUD:-none})"
  fi
  mv -f "$tmp" "$dest"
}

# secrets.list: one secret a line, "<locator> <destination path> <octal mode>".
fetch_all_secrets() {
  local list=$1 locator dest mode
  [ -f "$list" ] || die "missing ${list}"
  cloud_prepare_secrets
  while read -r locator dest mode; do
    [ -n "$locator" ] || continue
    fetch_secret "$locator" "$dest" "$mode"
    log "placed ${dest}"
  done <"$list"
}

# A node of a cluster spanning clouds takes one of its pool's reserved public addresses before K3s
# starts: the other clouds' firewalls admit exactly those (bootstrap.env LLMOPS_ADDRESS_SET).
claim_external_address() {
  local set=${LLMOPS_ADDRESS_SET:-}
  [ -n "$set" ] || return 0
  cloud_claim_address "$set" || die "cannot claim a public address of set ${set}"
  log "claimed a public address of set ${set}"
}

# K3s reads drop-ins from config.yaml.d after config.yaml; the external address is only known
# on the machine (a cloud's public IP), so it is written here rather than rendered in advance.
write_external_ip() {
  local address=${LLMOPS_NODE_EXTERNAL_IP:-}
  case "$address" in
    "") return 0 ;;
    cloud)
      address=$(cloud_external_ip) || {
        log "the cloud reports no public IPv4 for this machine; not setting node-external-ip"
        return 0
      }
      ;;
  esac
  printf 'node-external-ip: "%s"\n' "$address" | write_atomic "${K3S_ETC}/config.yaml.d/50-external-ip.yaml" 0644
}

# The kubelet's provider id (`<cloud>://...`), which node autoscalers use to map a node to its
# machine group. Only where bootstrap.env asks for it (LLMOPS_PROVIDER_ID=cloud).
write_provider_id() {
  [ "${LLMOPS_PROVIDER_ID:-}" = cloud ] || return 0
  local id
  id=$(cloud_provider_id) || die "the cloud reports no provider id for this machine"
  # `kubelet-arg+` appends to any kubelet-arg of config.yaml instead of replacing it.
  printf 'kubelet-arg+:\n  - "provider-id=%s"\n' "$id" | write_atomic "${K3S_ETC}/config.yaml.d/60-provider-id.yaml" 0644
}

# K3s hands these two to the kubelet when both exist as it starts (the defaults of its
# --image-credential-provider-bin-dir and --image-credential-provider-config), so a provider is
# in place once the binary and the config are written before K3s starts.
CREDENTIAL_PROVIDER_DIR=/var/lib/rancher/credentialprovider

# Install the credential provider binary $1 from URL $2, pinned by the SHA-256 $3 of the download;
# with $4, the download is a .tar.gz and $4 the member to install. Stops the bootstrap when the
# pin is missing or the download does not match it; a second run with the same pin does nothing.
install_credential_provider() {
  local name=$1 url=$2 sha256=$3 member=${4:-} bin tmp source
  [ -n "$sha256" ] || die "no SHA-256 is recorded for ${url}; not installing an unverified ${name}"
  bin="${CREDENTIAL_PROVIDER_DIR}/bin/${name}"
  if [ -x "$bin" ] && [ "$(cat "${bin}.sha256" 2>/dev/null)" = "$sha256" ]; then
    return 0
  fi
  mkdir -p "${CREDENTIAL_PROVIDER_DIR}/bin"
  tmp=$(mktemp -d)
  if ! curl -fsSL --retry 5 --retry-connrefused -o "${tmp}/download" "$url"; then
    rm -rf "$tmp"
    die "cannot download ${url}"
  fi
  if ! printf '%s  %s\n' "$sha256" "${tmp}/download" | sha256sum --check --status -; then
    rm -rf "$tmp"
    die "${url} does not match its pinned SHA-256 ${sha256}"
  fi
  source="${tmp}/download"
  if [ -n "$member" ]; then
    tar -xzf "${tmp}/download" -C "$tmp" "$member" || {
      rm -rf "$tmp"
      die "${url} has no ${member}"
    }
    source="${tmp}/${member}"
  fi
  install -m 0755 "$source" "${bin}.new"
  mv -f "${bin}.new" "$bin"
  printf '%s\n' "$sha256" | write_atomic "${bin}.sha256" 0644
  rm -rf "$tmp"
  log "installed ${name} (sha256 ${sha256})"
}

# The kubelet's CredentialProviderConfig for one provider: its name, the image prefix it serves,
# the cache duration of its answers, then its arguments. The K3s drop-in names both paths, so the
# provider stays wired if K3s's defaults ever move.
write_credential_provider_config() {
  local name=$1 match=$2 cache=$3 arg
  shift 3
  {
    printf 'apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n'
    printf '  - name: %s\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n' "$name"
    printf '    matchImages:\n      - "%s"\n' "$match"
    if [ "$#" -gt 0 ]; then
      printf '    args:\n'
      for arg in "$@"; do
        printf '      - %s\n' "$arg"
      done
    fi
    printf '    defaultCacheDuration: %s\n' "$cache"
  } | write_atomic "${CREDENTIAL_PROVIDER_DIR}/config.yaml" 0644
  printf 'image-credential-provider-bin-dir: "%s"\nimage-credential-provider-config: "%s"\n' \
    "${CREDENTIAL_PROVIDER_DIR}/bin" "${CREDENTIAL_PROVIDER_DIR}/config.yaml" |
    write_atomic "${K3S_ETC}/config.yaml.d/70-image-credentials.yaml" 0644
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
