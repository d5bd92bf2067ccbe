# syntax=docker/dockerfile:1
# Portcullis webhook image: multi-stage, production dependencies only, non-root,
# read-only root filesystem friendly (nothing is written at run time), node as PID 1
# (it handles SIGTERM itself: graceful shutdown). No HEALTHCHECK: Kubernetes probes
# /healthz and /readyz.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM node:24-bookworm-slim
ENV NODE_ENV=production
# V8 heap sizing for the 256Mi container limit of deploy/ (BENCHMARKS.md): a young generation of at
# most 3 x 8 MiB, and an old-generation cap that keeps V8 growing the old space in small steps over
# the live set. Raise --max-old-space-size with the container limit for very large policy sets.
ENV NODE_OPTIONS="--max-semi-space-size=8 --max-old-space-size=160"
# glibc malloc: two arenas instead of one per thread (8 x cores), which V8's and libuv's worker
# threads would each fill with freed memory; and a fixed mmap threshold (glibc's initial 128 KiB),
# since its dynamic one rises after each large free until large buffers come from the heap and stay
# resident. Together ~8 MiB less peak RSS under load, same throughput (BENCHMARKS.md).
ENV MALLOC_ARENA_MAX=2
ENV MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY policies ./policies
USER 65532:65532
EXPOSE 9443 8000
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["serve", "--policies", "/app/policies", "--tls-cert", "/tls/tls.crt", "--tls-key", "/tls/tls.key"]
