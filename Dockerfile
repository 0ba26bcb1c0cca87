# Herald: API, workers and Bull Board in one image. Build: docker build -t herald .
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
USER node
EXPOSE 8080
# SIGTERM lets active jobs finish before the container stops (give it a stop_grace_period).
ENTRYPOINT ["node", "bin/herald.js"]
CMD ["start"]
