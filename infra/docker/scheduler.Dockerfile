# syntax=docker/dockerfile:1
# trainyard/scheduler: gang placement (services/scheduler), run from its TypeScript sources with tsx.
# Run 2 replicas: a Redis leader lease picks the one that places (SCHEDULER_ID defaults to
# <hostname>-<pid>, unique per pod).
# Build context: the repository root.
#   docker build -f infra/docker/scheduler.Dockerfile -t "$REGISTRY/trainyard/scheduler:0.1.0" .
# See infra/docker/README.md (env defaults, read-only root filesystem, signals).

# Full version tag; pass NODE_IMAGE=node:20.20.2-bookworm-slim@sha256:<digest> to pin a digest too.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# ---- build: workspace install, then a production-only deploy of @trainyard/scheduler into /out ----
FROM ${NODE_IMAGE} AS build
RUN npm install --global --no-audit --no-fund pnpm@10.34.9
WORKDIR /src
# Packages come from the lockfile alone, so this layer is reused until pnpm-lock.yaml changes.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch --prod
COPY packages ./packages
COPY services ./services
# Fails when the lockfile does not match every package.json.
RUN pnpm install --frozen-lockfile --offline --prod
# The service's files + its workspace packages (copied in, not linked) + production node_modules
# (tsx included). pnpm 10 deploys only injected workspace packages: the flag turns that on for
# this command; the committed lockfile is used as is.
RUN pnpm --filter @trainyard/scheduler deploy --prod --offline --config.inject-workspace-packages=true /out

# ---- runtime ----
FROM ${NODE_IMAGE}
ARG NODE_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE_URL=""
LABEL org.opencontainers.image.title="trainyard-scheduler" \
      org.opencontainers.image.description="Trainyard scheduler: places training jobs on gangs of workers (leader-elected over Redis)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.vendor="Trainyard" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
# tini as PID 1: forwards SIGTERM to node and reaps zombies (node as PID 1 would ignore a
# SIGTERM that arrives before its own handlers are installed).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
# TSX_DISABLE_CACHE: tsx would otherwise write its transform cache under $TMPDIR, and fail to
# start on a read-only root filesystem without a writable /tmp.
ENV NODE_ENV=production \
    METRICS_HOST=0.0.0.0 \
    METRICS_PORT=9464 \
    TSX_DISABLE_CACHE=1
# Owned by root, read-only for the app's user.
COPY --from=build /out /app/services/scheduler
WORKDIR /app/services/scheduler
USER 1000:1000
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||9464)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "src/main.ts"]
