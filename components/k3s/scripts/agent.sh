#!/usr/bin/env bash
# Bootstrap a K3s agent: fetch the agent token from the secret store, then install K3s and
# join the server named in /etc/rancher/k3s/config.yaml with this pool's labels and taints.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "${here}/lib.sh"

load_bootstrap_env
fetch_all_secrets "${LLMOPS_ETC}/secrets.list"
claim_external_address
write_external_ip
write_provider_id
# Before K3s starts: the kubelet reads its credential providers once, at start.
cloud_image_credentials
install_k3s agent
log "agent bootstrap done"
