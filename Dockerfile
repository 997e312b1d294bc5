# StreamGate images: streamgate-server, streamgate-gateway and sgctl, built with the
# repository's CMake on Debian 12, run as a non-root user on a minimal Debian 12 runtime.
#   docker build -t streamgate:v0.1.0 .                   # the server (default, last stage)
#   docker build --target gateway -t streamgate-gateway:v0.1.0 .
#   docker build --target sgctl -t streamgate-sgctl:v0.1.0 .    # sgctl + kubectl (the controller)
# The Kubernetes manifests (deploy/k8s) use the server image for the server and the gateway,
# with `command:`, and the sgctl image for Deployment streamgate-controller.
# scripts/check-image-libs (run by scripts/test) checks the runtime stage's packages against
# what the built binaries load; no Docker engine runs in CI.

# Where the sgctl image's kubectl comes from (see the kubectl-debian stage).
ARG KUBECTL_IMAGE=kubectl-debian
ARG KUBECTL_PATH=/usr/bin/kubectl

FROM debian:12 AS build
ENV DEBIAN_FRONTEND=noninteractive
# The same build dependencies as scripts/install-deps (the test libraries only because the
# CMake project configures its tests; they are not built here).
RUN apt-get update && apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config ca-certificates nodejs npm \
      libboost1.81-dev libboost-json1.81-dev libpqxx-dev libpq-dev libhiredis-dev \
      libsqlite3-dev libssl-dev libspdlog-dev libfmt-dev libcli11-dev libyaml-cpp-dev \
      libgtest-dev libgmock-dev libgoogle-perftools-dev \
      libavformat-dev libavcodec-dev libavutil-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# hls.js is built into the server; the pinned lock, from the npm registry.
RUN npm ci --ignore-scripts --no-audit --no-fund --omit=dev
COPY CMakeLists.txt ./
COPY src src
COPY tests tests
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    && cmake --build build --target streamgate-server streamgate-gateway sgctl \
    && strip --strip-debug build/src/server/streamgate-server build/src/gateway/streamgate-gateway \
         build/src/cli/sgctl

FROM debian:12-slim AS runtime
ENV DEBIAN_FRONTEND=noninteractive
# Exactly the packages owning the libraries the binaries load (scripts/check-image-libs),
# plus curl (HEALTHCHECK, the runbook's in-pod curl) and ca-certificates.
RUN apt-get update && apt-get install -y --no-install-recommends \
      libc6 libgcc-s1 libstdc++6 libssl3 libsqlite3-0 libpqxx-6.4 libhiredis0.14 \
      libavformat59 libavcodec59 libavutil57 libyaml-cpp0.7 libboost-json1.81.0 \
      libtcmalloc-minimal4 \
      curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 streamgate \
    && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin streamgate \
    && install -d -o 10001 -g 10001 /var/lib/streamgate /var/lib/streamgate/media
COPY --from=build /src/build/src/server/streamgate-server /src/build/src/gateway/streamgate-gateway \
     /src/build/src/cli/sgctl /usr/local/bin/
ENV STREAMGATE_LISTEN=0.0.0.0:9090 \
    STREAMGATE_STORAGE=sqlite:/var/lib/streamgate/streamgate.db \
    STREAMGATE_MEDIA_DIR=/var/lib/streamgate/media
WORKDIR /var/lib/streamgate
USER 10001:10001

# kubectl for the sgctl image: sgctl's kubernetes backend drives the cluster through kubectl.
# Default: Debian 12's kubernetes-client, which is kubectl 1.20.2 (a static binary, no
# libraries). That is far outside kubectl's supported skew (one minor version) against a 1.32
# API server, but the calls sgctl makes use only GA APIs that 1.20 already had: apps/v1
# Deployments (get/list/patch), v1 Pods, pods/log, Services and ConfigMaps, and
# coordination.k8s.io/v1 Leases. To use a kubectl matching your cluster, build with an image
# that holds one and the path of the binary in it, e.g.
#   docker build --target sgctl --build-arg KUBECTL_IMAGE=registry.example/kubectl:v1.32.4 \
#     --build-arg KUBECTL_PATH=/bin/kubectl -t streamgate-sgctl:v0.1.0 .
FROM debian:12-slim AS kubectl-debian
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends kubernetes-client \
    && rm -rf /var/lib/apt/lists/*

FROM ${KUBECTL_IMAGE} AS kubectl

# sgctl as the in-cluster controller (`sgctl --backend kubernetes controller`,
# deploy/k8s/components/controller): the runtime stage (sgctl's libraries) plus kubectl.
FROM runtime AS sgctl
ARG KUBECTL_PATH
COPY --from=kubectl ${KUBECTL_PATH} /usr/local/bin/kubectl
# HOME: kubectl keeps its discovery cache there (the user has no home directory). The state
# dir (SG_STATE_DIR) is the pod's emptyDir; no HEALTHCHECK: the control API's port is set by
# --control-listen (the manifest's probes GET its /health).
ENV SG_BACKEND=kubernetes \
    HOME=/tmp
ENTRYPOINT ["/usr/local/bin/sgctl"]

FROM runtime AS gateway
EXPOSE 8080 8081
HEALTHCHECK --interval=10s --timeout=2s --retries=3 CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8081/health"]
ENTRYPOINT ["/usr/local/bin/streamgate-gateway"]

FROM runtime AS server
EXPOSE 9090
HEALTHCHECK --interval=10s --timeout=2s --start-period=30s --retries=3 CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:9090/livez"]
ENTRYPOINT ["/usr/local/bin/streamgate-server"]
