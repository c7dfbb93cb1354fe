# syntax=docker/dockerfile:1
# trainyard/worker-gpu: Trainyard workers on NVIDIA GPUs through @tensorflow/tfjs-node-gpu 4.22.0.
# That package loads libtensorflow 2.9.1 (GPU), built for CUDA 11.2 and cuDNN 8.1: the base is
# NVIDIA's CUDA 11.2.2 runtime image with cuDNN 8 (8.1.x), Ubuntu 20.04.
# The entrypoint is scripts/worker-per-device.sh: one worker process per visible GPU, each with
# CUDA_VISIBLE_DEVICES=<i> and WORKER_ID=<hostname>-gpu<i>; it forwards SIGTERM to all of them.
# Build context: the repository root. The build needs internet: the package's install script
# downloads libtensorflow and the prebuilt binding (or builds it with python3/make/g++).
#   docker build -f infra/docker/worker-gpu.Dockerfile -t "$REGISTRY/trainyard/worker-gpu:0.1.0" .
# Running it needs the NVIDIA driver and nvidia-container-toolkit on the host
# (docker run --gpus all ...). See infra/docker/README.md.

ARG NODE_IMAGE=node:20.20.2-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04

# Node itself comes from the official image (its binary needs glibc >= 2.28; Ubuntu 20.04 has 2.31).
FROM ${NODE_IMAGE} AS node

# ---- build: on the CUDA base, so a binding compiled from source links against the same libraries ----
FROM ${CUDA_IMAGE} AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && npm install --global --no-audit --no-fund pnpm@10.34.9
WORKDIR /src
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch
COPY packages ./packages
COPY services ./services
# Fails when the lockfile does not match every package.json.
RUN pnpm install --frozen-lockfile --offline
# The native GPU binding is deliberately in no package.json (docs/backends.md): added here only.
# --allow-build records it in pnpm-workspace.yaml's onlyBuiltDependencies (pnpm 10 runs no
# dependency's install script unless allowed); --ignore-scripts defers that script to the deploy,
# which runs it once in /out (it downloads libtensorflow 2.9.1 GPU and the prebuilt binding).
RUN pnpm --filter @trainyard/engine add @tensorflow/tfjs-node-gpu@4.22.0 \
      --allow-build=@tensorflow/tfjs-node-gpu --ignore-scripts
RUN pnpm --filter @trainyard/worker deploy --prod --config.inject-workspace-packages=true /out/services/worker
# Fail the build, not the pod, when the binding or libtensorflow is missing or cannot be loaded
# (loading needs no GPU: libtensorflow opens the CUDA driver only when it looks for devices).
RUN set -e; cd /out/services/worker; \
    test -n "$(find node_modules/.pnpm -path '*/tfjs-node-gpu/lib/*' -name tfjs_binding.node)"; \
    test -n "$(find node_modules/.pnpm -path '*/tfjs-node-gpu/deps/lib/*' -name 'libtensorflow.so*')"; \
    node -e "const e=require('node:fs').realpathSync('node_modules/@trainyard/engine');const m=require(require.resolve('@tensorflow/tfjs-node-gpu',{paths:[e]}));console.log('tfjs-node-gpu',m.version['tfjs-node'])"
COPY scripts/worker-per-device.sh /out/scripts/worker-per-device.sh

# ---- runtime ----
FROM ${CUDA_IMAGE}
ARG CUDA_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE_URL=""
LABEL org.opencontainers.image.title="trainyard-worker-gpu" \
      org.opencontainers.image.description="Trainyard worker on NVIDIA GPUs (tfjs-node-gpu 4.22.0, CUDA 11.2, cuDNN 8): one worker process per GPU" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.vendor="Trainyard" \
      org.opencontainers.image.base.name="${CUDA_IMAGE}"
ARG DEBIAN_FRONTEND=noninteractive
# tini as PID 1 forwards SIGTERM to the script, which forwards it to every worker.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && install -d -o 1000 -g 1000 -m 0750 /var/lib/trainyard /var/lib/trainyard/objects
COPY --from=node /usr/local/bin/node /usr/local/bin/node
# Owned by root, read-only for the app's user.
COPY --from=build /out /app
# WORKERS stays unset: the script then starts one worker per GPU that nvidia-smi lists (the
# NVIDIA runtime mounts nvidia-smi with NVIDIA_DRIVER_CAPABILITIES=compute,utility, set by the
# base image). CUDA_CACHE_PATH/CUDA_CACHE_MAXSIZE: the PTX JIT cache. libtensorflow 2.9 has no
# machine code for the newest GPUs (e.g. H100/H200): CUDA compiles its PTX when a worker starts,
# which takes minutes; keep this path on a volume so it happens once (on a read-only root
# filesystem mount a volume at /tmp, or CUDA just compiles again each start).
ENV NODE_ENV=production \
    METRICS_HOST=0.0.0.0 \
    METRICS_PORT=9464 \
    TRAINYARD_BACKEND=tensorflow \
    REQUIRE_GPU=1 \
    TRAINYARD_STORE_DIR=/var/lib/trainyard/objects \
    TSX_DISABLE_CACHE=1 \
    CUDA_CACHE_PATH=/tmp/cuda-cache \
    CUDA_CACHE_MAXSIZE=4294967296
# The script runs `node --import tsx`, which resolves tsx from this directory.
WORKDIR /app/services/worker
USER 1000:1000
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||9464)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Each worker drains on SIGTERM (checkpoint within WORKER_DRAIN_GRACE_MS, exit at most 15 s
# later): give the container 90 s before SIGKILL.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["bash", "/app/scripts/worker-per-device.sh"]
