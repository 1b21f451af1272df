#!/usr/bin/env bash
# Compute Engine part of the node bootstrap, sourced by lib.sh (components/k3s/scripts/): secrets
# from Secret Manager, the external address and the provider id from the metadata server.
# No gcloud on the node: the VM's service account token comes from the metadata server, and
# Secret Manager is called over its REST API with that token.

GCE_METADATA_URL=${GCE_METADATA_URL:-http://169.254.169.254/computeMetadata/v1}
GCP_SECRET_MANAGER_URL=${GCP_SECRET_MANAGER_URL:-https://secretmanager.googleapis.com/v1}

# One value from the metadata server; prints nothing and returns 1 when the path is absent.
gce_metadata_get() {
  curl -fsS --retry 5 --retry-connrefused -H 'Metadata-Flavor: Google' "${GCE_METADATA_URL}/$1"
}

# curl and python3 ship with every Ubuntu and Deep Learning VM image: nothing to install.
cloud_prepare_secrets() {
  command -v curl >/dev/null 2>&1 || die "curl is needed to read Secret Manager"
  command -v python3 >/dev/null 2>&1 || die "python3 is needed to decode Secret Manager answers"
}

# Print the latest version of Secret Manager secret $1 (projects/P/secrets/S). The access token
# travels in a header file (mode 0600, removed after use) and the value through a pipe, so
# neither appears on a command line, in the process list or in a log.
cloud_read_secret() {
  local locator=$1 headers status=0
  headers=$(mktemp)
  chmod 0600 "$headers"
  if ! gce_metadata_get instance/service-accounts/default/token \
    | python3 -c 'import json, sys; print("Authorization: Bearer " + json.load(sys.stdin)["access_token"])' \
      >"$headers"; then
    rm -f "$headers"
    log "cannot get an access token from the metadata server"
    return 1
  fi
  curl -fsS --retry 5 -H @"$headers" "${GCP_SECRET_MANAGER_URL}/${locator}/versions/latest:access" \
    | python3 -c 'import base64, json, sys; sys.stdout.buffer.write(base64.b64decode(json.load(sys.stdin)["payload"]["data"]))' \
    || status=$?
  rm -f "$headers"
  if [ "$status" -ne 0 ]; then
    log "cannot read Secret Manager secret ${locator}"
    return 1
  fi
}

# The VM's external IPv4 (first interface, first access config); fails when it has none.
cloud_external_ip() {
  gce_metadata_get instance/network-interfaces/0/access-configs/0/external-ip
}

# gce://<project>/<zone>/<instance>: the provider id Kubernetes' GCE integrations
# (cluster-autoscaler's MIG discovery among them) match nodes to instances by.
cloud_provider_id() {
  local project zone name
  project=$(gce_metadata_get project/project-id) || return 1
  zone=$(gce_metadata_get instance/zone) || return 1
  name=$(gce_metadata_get instance/name) || return 1
  printf 'gce://%s/%s/%s\n' "$project" "${zone##*/}" "$name"
}
