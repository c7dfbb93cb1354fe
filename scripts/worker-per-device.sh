#!/usr/bin/env bash
# Runs one Trainyard worker process per device, as a pod's entrypoint would:
#   - on a GPU machine, one per visible GPU, each with CUDA_VISIBLE_DEVICES=<index>
#     (tfjs-node-gpu cannot choose a device per op, so each process must see exactly one);
#   - elsewhere, one per CPU core (the wasm backend runs one thread in Node).
# WORKER_ID defaults to <hostname>-gpu<i> / <hostname>-cpu<i>. SIGTERM/SIGINT reach every
# worker (each drains and exits); if one worker exits, the others are stopped too, so the
# pod restarts whole.
# With METRICS_PORT set to a port (not 0), worker k (k = 0, 1, ...) serves /metrics on
# METRICS_PORT + k, so the processes of one pod do not collide.
# REQUIRE_GPU=1 (set by the GPU image) makes "no GPU listed" an error (exit 1) instead of
# one CPU worker per core: a GPU pod whose driver broke must not become dozens of wasm workers.
#   WORKERS=2 scripts/worker-per-device.sh     # force a count
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
base="${WORKER_ID_PREFIX:-$(hostname)}"
gpus=()
if [ -z "${WORKERS:-}" ] && command -v nvidia-smi >/dev/null 2>&1; then
  mapfile -t gpus < <(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null | tr -d ' ')
fi
pids=()
metrics_port() { # $1: the worker's ordinal
  if [ "${METRICS_PORT:-0}" -gt 0 ] 2>/dev/null; then echo $((METRICS_PORT + $1)); else echo "${METRICS_PORT:-0}"; fi
}
stop() { kill -TERM "${pids[@]}" 2>/dev/null; wait; exit 0; }
trap stop TERM INT
if [ "${#gpus[@]}" -eq 0 ] && [ "${REQUIRE_GPU:-0}" = "1" ]; then
  if [ -n "${WORKERS:-}" ]; then
    echo "worker-per-device: REQUIRE_GPU=1 and WORKERS=${WORKERS}: WORKERS starts CPU workers; unset one of them" >&2
  else
    echo "worker-per-device: REQUIRE_GPU=1 but nvidia-smi lists no GPU ($(nvidia-smi -L 2>&1 | head -n 1)); refusing to start CPU workers" >&2
  fi
  exit 1
fi
if [ "${#gpus[@]}" -gt 0 ]; then
  k=0
  for i in "${gpus[@]}"; do
    CUDA_VISIBLE_DEVICES="$i" WORKER_ID="${base}-gpu${i}" TRAINYARD_BACKEND="${TRAINYARD_BACKEND:-auto}" \
      METRICS_PORT="$(metrics_port "$k")" node --import tsx "$ROOT/services/worker/src/main.ts" &
    pids+=($!)
    k=$((k + 1))
  done
else
  n="${WORKERS:-$(nproc)}"
  for ((i = 0; i < n; i++)); do
    CUDA_VISIBLE_DEVICES="" WORKER_ID="${base}-cpu${i}" METRICS_PORT="$(metrics_port "$i")" \
      node --import tsx "$ROOT/services/worker/src/main.ts" &
    pids+=($!)
  done
fi
echo "worker-per-device: started ${#pids[@]} workers (pids ${pids[*]})"
wait -n
status=$?
echo "worker-per-device: a worker exited ($status); stopping the others" >&2
kill -TERM "${pids[@]}" 2>/dev/null
wait
exit "$status"
