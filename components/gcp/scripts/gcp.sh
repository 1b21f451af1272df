#!/usr/bin/env bash
# Compute Engine bootstrap fragments: secret fetch, external address, provider id.
# Sourced after lib.sh, never run on its own. Everything talks to the metadata server
# (no gcloud on the node): the VM's service account token comes from there, and Secret
# Manager is called over its REST API with that token.

GCE_METADATA_URL=${GCE_METADATA_URL:-http://169.254.169.254/computeMetadata/v1}
GCP_SECRET_MANAGER_URL=${GCP_SECRET_MANAGER_URL:-https://secretmanager.googleapis.com/v1}

# One value from the metadata server; prints nothing and returns 1 when the path is absent.
gce_metadata_get() {
  curl -fsS --retry 5 --retry-connrefused -H 'Metadata-Flavor: Google' "${GCE_METADATA_URL}/$1"
}

# Fetch the latest version of Secret Manager secret $1 (projects/P/secrets/S) into file $2
# with mode $3. The access token travels in a header file and the value through a pipe, so
# neither appears on a command line, in the process list or in a log.
gcp_fetch_secret() {
  local locator=$1 dest=$2 mode=$3 headers tmp
  headers=$(mktemp)
  chmod 0600 "$headers"
  if ! gce_metadata_get instance/service-accounts/default/token \
    | python3 -c 'import json, sys; print("Authorization: Bearer " + json.load(sys.stdin)["access_token"])' \
      >"$headers"; then
    rm -f "$headers"
    die "cannot get an access token from the metadata server"
  fi
  mkdir -p "$(dirname "$dest")"
  tmp=$(mktemp "${dest}.XXXXXX")
  chmod "$mode" "$tmp"
  if ! curl -fsS --retry 5 -H @"$headers" "${GCP_SECRET_MANAGER_URL}/${locator}/versions/latest:access" \
    | python3 -c 'import base64, json, sys; sys.stdout.buffer.write(base64.b64decode(json.load(sys.stdin)["payload"]["data"]))' \
      >"$tmp"; then
    rm -f "$tmp" "$headers"
    die "cannot read Secret Manager secret ${locator}"
  fi
  rm -f "$headers"
  mv -f "$tmp" "$dest"
}

# The VM's external IPv4 (first interface, first access config); fails when it has none.
gcp_external_ip() {
  gce_metadata_get instance/network-interfaces/0/access-configs/0/external-ip
}

# gce://<project>/<zone>/<instance>: the provider id Kubernetes' GCE integrations
# (cluster-autoscaler's MIG discovery among them) match nodes to instances by.
gcp_provider_id() {
  local project zone name
  project=$(gce_metadata_get project/project-id) || return 1
  zone=$(gce_metadata_get instance/zone) || return 1
  name=$(gce_metadata_get instance/name) || return 1
  printf 'gce://%s/%s/%s\n' "$project" "${zone##*/}" "$name"
}

# --- hooks: lib.sh's cloud steps, answered for Compute Engine ---

fetch_secret() {
  case "${LLMOPS_SECRET_BACKEND:-}" in
    gcp-secret-manager) gcp_fetch_secret "$@" ;;
    *) die "unknown secret backend '${LLMOPS_SECRET_BACKEND:-}' (supported: gcp-secret-manager)" ;;
  esac
}

# Writes the drop-ins only the machine can know: its provider id always, its external
# address when asked (WireGuard between clouds).
write_external_ip() {
  local provider_id address
  provider_id=$(gcp_provider_id) || die "cannot read project, zone and name from the metadata server"
  printf 'kubelet-arg+:\n  - "provider-id=%s"\n' "$provider_id" \
    | write_atomic "${K3S_ETC}/config.yaml.d/40-provider-id.yaml" 0644
  case "${LLMOPS_NODE_EXTERNAL_IP:-}" in
    "") return 0 ;;
    gce-metadata)
      address=$(gcp_external_ip) || {
        log "no external IPv4 in instance metadata; not setting node-external-ip"
        return 0
      }
      ;;
    *) address=$LLMOPS_NODE_EXTERNAL_IP ;;
  esac
  printf 'node-external-ip: "%s"\n' "$address" | write_atomic "${K3S_ETC}/config.yaml.d/50-external-ip.yaml" 0644
}
