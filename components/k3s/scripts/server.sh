#!/usr/bin/env bash
# Bootstrap a K3s server: place the cluster CAs and tokens from the secret store, then install
# and start K3s with the settings cloud-init wrote to /etc/rancher/k3s/config.yaml.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "${here}/lib.sh"

load_bootstrap_env
# The CAs must be on disk before K3s first starts, or it generates its own and the
# kubeconfig built by Pulumi would not match.
fetch_all_secrets "${LLMOPS_ETC}/secrets.list"
claim_external_address
write_external_ip
write_provider_id
install_k3s server
log "server bootstrap done"
