# Cairn's container image: a static binary on distroless, run as a
# non-root numeric user. Build: docker build -t cairn:dev .
# Run one insecure node (trusted network only):
#   docker run -p 5480:5480 -p 8480:8480 -v cairn-data:/data cairn:dev start --insecure
# docs/deploy.md explains the environment, the ports and the volume.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first: a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=0.1.0-dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/cairn ./cmd/cairn
# The data dir, owned by the runtime user (distroless has no shell to
# create it later).
RUN mkdir -p /out/data

# distroless/static: CA certificates, /etc/passwd with nonroot (65532),
# tzdata; no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot AS runtime
COPY --from=build /out/cairn /usr/local/bin/cairn
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
# The defaults of `cairn start` listen on 127.0.0.1; in a container every
# port listens on all interfaces. Other nodes and clients must reach a node
# by a name, not 0.0.0.0: give each one --advertise-host (its DNS name),
# where the nodes are declared (compose, Kubernetes).
ENV CAIRN_DATA_DIR=/data \
    CAIRN_PG_ADDR=0.0.0.0:5480 \
    CAIRN_HTTP_ADDR=0.0.0.0:8480 \
    CAIRN_CLUSTER_ADDR=0.0.0.0:7480
VOLUME ["/data"]
# 5480 PostgreSQL wire protocol, 8480 HTTP (API, ingest, /metrics,
# /health, /ready), 7480 cluster traffic (Raft, internal RPC).
EXPOSE 5480 8480 7480
# No HEALTHCHECK: the image has no curl. Orchestrators probe GET /ready
# (the node knows a meta leader) and GET /health (the process answers) on
# port 8480 themselves, or run `cairn ready` in the container.
ENTRYPOINT ["/usr/local/bin/cairn"]
CMD ["start"]
