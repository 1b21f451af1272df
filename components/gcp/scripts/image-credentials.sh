#!/usr/bin/env bash
# Compute Engine part of the node bootstrap, continued (appended to cloud.sh): the kubelet's
# credential provider of kubernetes/cloud-provider-gcp (auth-provider-gcp), so the agents pull the
# stack's Artifact Registry images with their service account's token from the metadata server.
# That account may read the stack's one repository only (components/gcp/registry.py).

# cloud-provider-gcp publishes auth-provider-gcp builds in its staging bucket only (no release
# assets); this build and its SHA-256 are the ones kops pins for its GCE nodes
# (kubernetes/kops pkg/nodemodel/fileassets.go). It speaks the kubelet's stable
# credentialprovider.kubelet.k8s.io/v1 API.
GCP_AUTH_PROVIDER_VERSION=v20231005-providersv0.27.1-65-g8fbe8d27
GCP_AUTH_PROVIDER_URL="https://storage.googleapis.com/k8s-staging-cloud-provider-gcp/auth-provider-gcp/linux-amd64/${GCP_AUTH_PROVIDER_VERSION}"
GCP_AUTH_PROVIDER_SHA256=827d558953d861b81a35c3b599191a73f53c1f63bce42c61e7a3fee21a717a89

# The stack's repositories: <region>-docker.pkg.dev/<project>/, the machine's region and project.
# The provider is asked for no other image: the kubelet takes a pattern's path as a string prefix of
# the image's, so the closing slash keeps project "p" from matching project "p2".
gcp_registry_prefix() {
  local project zone
  project=$(gce_metadata_get project/project-id) || return 1
  zone=$(gce_metadata_get instance/zone) || return 1
  zone=${zone##*/}
  printf '%s-docker.pkg.dev/%s/\n' "${zone%-*}" "$project"
}

cloud_image_credentials() {
  local prefix
  prefix=$(gcp_registry_prefix) || die "cannot read the project and zone from the metadata server"
  install_credential_provider auth-provider-gcp "$GCP_AUTH_PROVIDER_URL" "$GCP_AUTH_PROVIDER_SHA256"
  # Access tokens from the metadata server last an hour; the provider gives each answer's lifetime.
  write_credential_provider_config auth-provider-gcp "$prefix" 1m get-credentials
  log "GCP credential provider ${GCP_AUTH_PROVIDER_VERSION} for ${prefix}"
}
