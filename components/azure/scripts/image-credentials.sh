#!/usr/bin/env bash
# Azure part of the node bootstrap, continued (appended to cloud.sh): the kubelet's ACR credential
# provider of kubernetes-sigs/cloud-provider-azure, so the agents pull the stack's ACR images with
# their managed identity (AcrPull on that registry alone, components/azure/registry.py).

# The AKS package mirror carries each release as a tarball; GitHub releases of cloud-provider-azure
# stopped attaching binaries. No public source found records this tarball's SHA-256, so the pin is
# empty until someone reads it (sha256sum of the download) and records it here; until then no
# provider is installed and the stack refuses `images.vllm: build` on Azure (decision 124).
AZURE_ACR_PROVIDER_VERSION=v1.34.0
AZURE_ACR_PROVIDER_URL="https://packages.aks.azure.com/cloud-provider-azure/${AZURE_ACR_PROVIDER_VERSION}/binaries/azure-acr-credential-provider-linux-amd64-${AZURE_ACR_PROVIDER_VERSION}.tar.gz"
AZURE_ACR_PROVIDER_SHA256=

# The stack's registry name, derived from the subscription and resource group exactly as
# components/azure/registry.py names it, so the node knows it before the registry exists.
azure_registry_host() {
  local subscription group hash
  subscription=$(azure_imds_text compute/subscriptionId) || return 1
  group=$(azure_imds_text compute/resourceGroupName) || return 1
  hash=$(printf '%s/%s' "$subscription" "$group" | tr '[:upper:]' '[:lower:]' | sha256sum) || return 1
  printf 'llmops%s.azurecr.io\n' "${hash:0:20}"
}

# The identity's client id and tenant, read from a token of the machine's one managed identity
# (its appid and tid claims); the token itself goes no further than this pipe.
azure_identity_claims() {
  curl -fsS -H 'Metadata: true' --get \
    --data-urlencode 'api-version=2018-02-01' \
    --data-urlencode 'resource=https://management.azure.com/' \
    "${AZURE_IMDS}/metadata/identity/oauth2/token" |
    python3 -c '
import base64, json, sys
payload = json.load(sys.stdin)["access_token"].split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
print(claims["appid"], claims["tid"])
'
}

cloud_image_credentials() {
  local host subscription claims client_id tenant
  if [ -z "$AZURE_ACR_PROVIDER_SHA256" ]; then
    log "no SHA-256 recorded for acr-credential-provider ${AZURE_ACR_PROVIDER_VERSION}; not installing it"
    return 0
  fi
  host=$(azure_registry_host) || die "cannot read the subscription and resource group from IMDS"
  subscription=$(azure_imds_text compute/subscriptionId) || die "cannot read the subscription from IMDS"
  claims=$(azure_identity_claims) || die "cannot read the managed identity's client id from IMDS"
  read -r client_id tenant <<<"$claims"
  install_credential_provider acr-credential-provider "$AZURE_ACR_PROVIDER_URL" "$AZURE_ACR_PROVIDER_SHA256" \
    azure-acr-credential-provider
  # The provider's cloud config: no secret in it, the managed identity signs in through IMDS.
  write_atomic "${CREDENTIAL_PROVIDER_DIR}/azure.json" 0600 <<JSON
{
  "cloud": "AzurePublicCloud",
  "tenantId": "${tenant}",
  "subscriptionId": "${subscription}",
  "useManagedIdentityExtension": true,
  "userAssignedIdentityID": "${client_id}"
}
JSON
  write_credential_provider_config acr-credential-provider "$host" 10m "${CREDENTIAL_PROVIDER_DIR}/azure.json"
  log "ACR credential provider ${AZURE_ACR_PROVIDER_VERSION} for ${host}"
}
