#!/bin/sh
# Init container of a vLLM replica that serves from the model store: wait until the download
# Job has written the revision's completion marker, for at most LLMOPS_WAIT_TIMEOUT_S seconds.
set -eu

marker="${LLMOPS_MODEL_MARKER:?LLMOPS_MODEL_MARKER must name the completion marker}"
timeout_s="${LLMOPS_WAIT_TIMEOUT_S:-3600}"
poll_s="${LLMOPS_WAIT_POLL_S:-5}"
job="${LLMOPS_DOWNLOAD_JOB:-the model download Job}"

waited=0
if [ ! -f "$marker" ]; then
  echo "llmops: waiting for the model files: ${marker} is written by ${job} when the download is complete (waiting up to ${timeout_s}s)"
fi
while [ ! -f "$marker" ]; do
  if [ "$waited" -ge "$timeout_s" ]; then
    echo "llmops: ${marker} did not appear within ${timeout_s}s. Check the download: kubectl logs job/${job}" >&2
    exit 1
  fi
  sleep "$poll_s"
  waited=$((waited + poll_s))
  if [ $((waited % 60)) -lt "$poll_s" ]; then
    echo "llmops: still waiting for ${marker} (${waited}s of ${timeout_s}s)"
  fi
done
echo "llmops: model files complete (${marker}); starting vLLM"
