# Herald: API, workers and Bull Board in one image. Build: docker build -t herald .
# The build context is filtered by .dockerignore (no node_modules, no .herald dev key, no outbox).
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
# The image's user writes the outbox (HERALD_EMAIL_CHANNEL=outbox, default ./outbox) and the data dir
# (./.herald); /app itself stays root-owned and read-only to it. Mount volumes over these to keep them.
RUN mkdir -p /app/outbox /app/.herald && chown node:node /app/outbox /app/.herald && chmod 0700 /app/.herald
USER node
EXPOSE 8080
# /healthz of `herald start` / `herald api`. For `herald worker` set HERALD_METRICS_PORT and run
# `node bin/healthcheck.js <that port>` as the health check instead.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["node", "bin/healthcheck.js"]
# SIGTERM lets active jobs finish before the container stops (give it a stop_grace_period).
ENTRYPOINT ["node", "bin/herald.js"]
CMD ["start"]
