# syntax=docker/dockerfile:1
# One image for all six services. The entrypoint takes the service:
#   docker run IMAGE serve ledger      run ledger
#   docker run IMAGE migrate ledger    apply ledger's migrations and exit
# Runs as a non-root user on a read-only root filesystem (mount /tmp writable).

# Build: install every package, generate code from the contracts and the Prisma
# schemas, then drop development packages.
FROM node:24-bookworm-slim AS build
RUN apt-get update \
  && apt-get install -y --no-install-recommends protobuf-compiler ca-certificates \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN npm install --no-audit --no-fund --loglevel=error \
  && node scripts/generate.ts \
  && npm prune --omit=dev --no-audit --no-fund --loglevel=error \
  && rm -rf bench test web deploy/helm k8s observability .data

# Run: distroless Node 24 (no shell, no package manager), user 65532.
FROM gcr.io/distroless/nodejs24-debian12:nonroot
WORKDIR /app
COPY --from=build --chown=0:0 /app /app
ENV NODE_ENV=production
USER 65532:65532
EXPOSE 50051 8080 9090
# --v8-pool-size=0 as every service process starts (packages/runtime/src/node-arguments.ts).
ENTRYPOINT ["/nodejs/bin/node", "--v8-pool-size=0", "/app/deploy/docker/entrypoint.ts"]
CMD ["serve", "auth"]
