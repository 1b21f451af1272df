#!/usr/bin/env bash
# Azure part of the node bootstrap, sourced by lib.sh (components/k3s/scripts/): secrets from Key
# Vault read with the machine's managed identity, the public address and the provider id from the
# instance metadata service (IMDS). Tokens and values travel on stdin and stdout, never in argv.

AZURE_IMDS=${AZURE_IMDS:-http://169.254.169.254}
AZURE_IMDS_API=2021-02-01
AZURE_KEYVAULT_API=7.4
AZURE_KEYVAULT_RESOURCE=${AZURE_KEYVAULT_RESOURCE:-https://vault.azure.net}
# A new role assignment takes up to a few minutes to reach Key Vault: retry before giving up.
AZURE_SECRET_TRIES=${AZURE_SECRET_TRIES:-20}
AZURE_SECRET_RETRY_S=${AZURE_SECRET_RETRY_S:-15}

# Print one field of a JSON object read on stdin (python3 ships with Ubuntu's cloud images).
azure_json_field() {
  python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# Read one instance metadata value as text; fails when IMDS has none.
azure_imds_text() {
  curl -fsS -H 'Metadata: true' "${AZURE_IMDS}/metadata/instance/$1?api-version=${AZURE_IMDS_API}&format=text"
}

cloud_prepare_secrets() {
  command -v curl >/dev/null 2>&1 || die "curl is missing"
  command -v python3 >/dev/null 2>&1 || die "python3 is missing"
}

# Print the current value of one Key Vault secret; the locator is the secret's URL.
cloud_read_secret() {
  local locator=$1 token try=1
  while :; do
    if token=$(curl -fsS -H 'Metadata: true' --get \
      --data-urlencode 'api-version=2018-02-01' \
      --data-urlencode "resource=${AZURE_KEYVAULT_RESOURCE}" \
      "${AZURE_IMDS}/metadata/identity/oauth2/token" | azure_json_field access_token) &&
      printf 'Authorization: Bearer %s\n' "$token" |
      curl -fsS -H @- "${locator}?api-version=${AZURE_KEYVAULT_API}" | azure_json_field value; then
      return 0
    fi
    if [ "$try" -ge "$AZURE_SECRET_TRIES" ]; then
      log "cannot read Key Vault secret ${locator}"
      return 1
    fi
    try=$((try + 1))
    sleep "$AZURE_SECRET_RETRY_S"
  done
}

cloud_external_ip() {
  local ip
  ip=$(azure_imds_text network/interface/0/ipv4/ipAddress/0/publicIpAddress) || return 1
  [ -n "$ip" ] || return 1
  printf '%s\n' "$ip"
}

# The id the Azure cloud provider and cluster-autoscaler expect:
# azure:///subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Compute/
#   virtualMachineScaleSets/<scale set>/virtualMachines/<instance id>, or .../virtualMachines/<name>.
cloud_provider_id() {
  local subscription group scale_set name
  subscription=$(azure_imds_text compute/subscriptionId) || return 1
  group=$(azure_imds_text compute/resourceGroupName) || return 1
  name=$(azure_imds_text compute/name) || return 1
  scale_set=$(azure_imds_text compute/vmScaleSetName) || scale_set=""
  local base="azure:///subscriptions/${subscription}/resourceGroups/${group}/providers/Microsoft.Compute"
  if [ -n "$scale_set" ]; then
    # A Uniform scale set names its machines <scale set>_<instance id>.
    printf '%s/virtualMachineScaleSets/%s/virtualMachines/%s\n' "$base" "$scale_set" "${name##*_}"
  else
    printf '%s/virtualMachines/%s\n' "$base" "$name"
  fi
}
