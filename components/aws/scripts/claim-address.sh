#!/usr/bin/env bash
# AWS: take one free Elastic IP of the node's reserved set (tag llmops.io/address-set) and wait
# until the instance metadata reports it. Appended to cloud.sh for nodes of a cluster spanning
# clouds; the node's role may associate exactly the set's allocations with instances of its pool.

# Between attempts: a few seconds, random so nodes booting together spread out
# (LLMOPS_CLAIM_PAUSE_S fixes it and LLMOPS_CLAIM_ATTEMPTS bounds the tries, e.g. for tests).
claim_pause() {
  sleep "${LLMOPS_CLAIM_PAUSE_S:-$((RANDOM % 5 + 3))}"
}

cloud_claim_address() {
  local set=$1 region id allocation address attempt
  region=$(aws_imds_get placement/region) || return 1
  id=$(aws_imds_get instance-id) || return 1
  for attempt in $(seq 1 "${LLMOPS_CLAIM_ATTEMPTS:-30}"); do
    # Held already (a reboot, or a retry after a slow metadata update).
    address=$(aws ec2 describe-addresses --region "$region" \
      --filters "Name=tag:llmops.io/address-set,Values=${set}" "Name=instance-id,Values=${id}" \
      --query 'Addresses[0].PublicIp' --output text 2>/dev/null) || address=""
    if [ -z "$address" ] || [ "$address" = None ]; then
      # A random free one, so nodes booting together rarely race for the same allocation.
      allocation=$(aws ec2 describe-addresses --region "$region" \
        --filters "Name=tag:llmops.io/address-set,Values=${set}" \
        --query 'Addresses[?AssociationId==null].AllocationId' --output text 2>/dev/null \
        | tr '\t' '\n' | grep '^eipalloc-' | shuf -n 1) || allocation=""
      if [ -n "$allocation" ]; then
        aws ec2 associate-address --region "$region" --instance-id "$id" \
          --allocation-id "$allocation" --no-allow-reassociation >/dev/null 2>&1 || true
      else
        log "no free address in set ${set} yet (attempt ${attempt})"
      fi
      claim_pause
      continue
    fi
    if [ "$(aws_imds_get public-ipv4 || true)" = "$address" ]; then
      return 0
    fi
    claim_pause
  done
  return 1
}
