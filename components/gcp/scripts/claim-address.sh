#!/usr/bin/env bash
# Compute Engine: swap the VM's ephemeral external address for a free reserved one of its set
# (label llmops-address-set), over the Compute REST API with the metadata server's token.
# Appended to cloud.sh for nodes of a cluster spanning clouds. The subnetwork has Private Google
# Access, so the API stays reachable while the VM has no external address between the two calls.

GCP_COMPUTE_URL=${GCP_COMPUTE_URL:-https://compute.googleapis.com/compute/v1}

# curl against the Compute API; the token travels in a header file (0600), never on a command line.
gce_compute() {
  local method=$1 url=$2 body=${3:-} headers status=0
  headers=$(mktemp)
  chmod 0600 "$headers"
  gce_metadata_get instance/service-accounts/default/token \
    | python3 -c 'import json, sys; print("Authorization: Bearer " + json.load(sys.stdin)["access_token"])' \
      >"$headers" || { rm -f "$headers"; return 1; }
  if [ -n "$body" ]; then
    curl -fsS -X "$method" -H @"$headers" -H 'Content-Type: application/json' --data "$body" "$url" || status=$?
  else
    curl -fsS -X "$method" -H @"$headers" "$url" || status=$?
  fi
  rm -f "$headers"
  return "$status"
}

# Between attempts: a few seconds, random so nodes booting together spread out
# (LLMOPS_CLAIM_PAUSE_S fixes it and LLMOPS_CLAIM_ATTEMPTS bounds the tries, e.g. for tests).
claim_pause() {
  sleep "${LLMOPS_CLAIM_PAUSE_S:-$((RANDOM % 5 + 3))}"
}

cloud_claim_address() {
  local set=$1 project zone region name instance_url current address config attempt
  project=$(gce_metadata_get project/project-id) || return 1
  zone=$(gce_metadata_get instance/zone) || return 1
  zone=${zone##*/}
  region=${zone%-*}
  name=$(gce_metadata_get instance/name) || return 1
  instance_url="${GCP_COMPUTE_URL}/projects/${project}/zones/${zone}/instances/${name}"
  for attempt in $(seq 1 "${LLMOPS_CLAIM_ATTEMPTS:-30}"); do
    current=$(cloud_external_ip || true)
    # A random free address of the set, or the one this VM holds already (a reboot).
    address=$(gce_compute GET "${GCP_COMPUTE_URL}/projects/${project}/regions/${region}/addresses?filter=labels.llmops-address-set%3D${set}" \
      | CURRENT="$current" python3 -c '
import json, os, random, sys
items = json.load(sys.stdin).get("items", [])
mine = [a["address"] for a in items if a["address"] == os.environ["CURRENT"]]
free = [a["address"] for a in items if a.get("status") == "RESERVED"]
print(mine[0] if mine else (random.choice(free) if free else ""))') || address=""
    if [ -n "$address" ] && [ "$address" = "$current" ]; then
      return 0
    fi
    if [ -z "$address" ]; then
      log "no free address in set ${set} yet (attempt ${attempt})"
      claim_pause
      continue
    fi
    config=$(gce_compute GET "$instance_url" \
      | python3 -c 'import json, sys; c = json.load(sys.stdin)["networkInterfaces"][0].get("accessConfigs", []); print(c[0]["name"] if c else "")') || config=""
    if [ -n "$config" ]; then
      gce_compute POST "${instance_url}/deleteAccessConfig?networkInterface=nic0&accessConfig=${config// /%20}" >/dev/null || true
      claim_pause
    fi
    gce_compute POST "${instance_url}/addAccessConfig?networkInterface=nic0" \
      "{\"name\": \"external-nat\", \"type\": \"ONE_TO_ONE_NAT\", \"natIP\": \"${address}\"}" >/dev/null || true
    claim_pause
  done
  return 1
}
