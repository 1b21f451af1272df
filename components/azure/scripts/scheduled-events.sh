#!/usr/bin/env bash
# Watch Azure Scheduled Events; on a Spot eviction (Preempt) or a delete (Terminate) of this machine,
# shut it down cleanly so the kubelet's graceful node shutdown (shutdown-grace-period 25s, 5s of it
# for critical pods) evicts the pods inside the 30-second notice. Runs as a systemd service.
set -euo pipefail

AZURE_IMDS=${AZURE_IMDS:-http://169.254.169.254}
POLL_S=${POLL_S:-5}
SHUTDOWN_COMMAND=${SHUTDOWN_COMMAND:-systemctl poweroff}
ONCE=${ONCE:-}

# Print "yes" when a Preempt or Terminate event names this machine (JSON on stdin).
evicted() {
  python3 -c '
import json, sys
me = sys.argv[1]
events = json.load(sys.stdin).get("Events", [])
hit = any(e.get("EventType") in ("Preempt", "Terminate") and me in e.get("Resources", []) for e in events)
print("yes" if hit else "no")
' "$1"
}

main() {
  local me events
  me=$(curl -fsS -H 'Metadata: true' \
    "${AZURE_IMDS}/metadata/instance/compute/name?api-version=2021-02-01&format=text")
  while :; do
    if events=$(curl -fsS -H 'Metadata: true' "${AZURE_IMDS}/metadata/scheduledevents?api-version=2020-07-01") &&
      [ "$(printf '%s' "$events" | evicted "$me")" = yes ]; then
      echo "llmops: ${me} is being evicted; shutting down for the kubelet to drain"
      ${SHUTDOWN_COMMAND}
      return 0
    fi
    [ -z "$ONCE" ] || return 0
    sleep "$POLL_S"
  done
}

main "$@"
