# syntax=docker/dockerfile:1
#
# cams-enrich image: one image for every command (worker, migrate, simulator, dashboard, ...).
#   docker build -t cams-enrich:local .
#   docker run --rm cams-enrich:local --help
# The app finds migrations/, src/demo/sample.csv and the Redis scripts (src/queue/lua, src/metrics/lua) from its package root (the folder holding
# package.json and migrations/), which is /app here.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: full dependencies, TypeScript compiled to dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# ---- runtime: production dependencies, compiled code, migrations and the demo CSV ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
COPY src/demo/sample.csv ./src/demo/sample.csv
# Redis scripts are read from the package root at run time (tsc does not copy them).
COPY src/queue/lua ./src/queue/lua
COPY src/metrics/lua ./src/metrics/lua
# The code stays owned by root; the working directory is writable for files a command is asked to
# write (such as --rejects).
RUN chown node:node /app
USER node
# simulator (8080) and dashboard (3000) when run with those commands
EXPOSE 8080 3000
ENTRYPOINT ["node", "dist/src/cli/bin.js"]
CMD ["worker"]
