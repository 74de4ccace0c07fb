# syntax=docker/dockerfile:1
# Small images for agw's binaries, one per target:
#
#   docker build --target agw-proxy    -t ghcr.io/agw-dev/agw-proxy:dev .
#   docker build --target agw-operator -t ghcr.io/agw-dev/agw-operator:dev .
#   docker build --target agw-webhook  -t ghcr.io/agw-dev/agw-webhook:dev .
#   docker build --target agwctl       -t ghcr.io/agw-dev/agwctl:dev .
#
# hack/kind-up.sh builds the first three and loads them into a kind cluster.
#
# No container engine runs on the development machines, so this file is kept simple and is
# not built in CI.
#
# The binaries use rustls (no OpenSSL), so the runtime is distroless "cc" (glibc only) and runs
# as the distroless nonroot user (65532), matching the restricted pod security context.

ARG RUST_VERSION=1.95.0

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p agw-proxy -p agw-operator -p agw-webhook -p agwctl \
 && mkdir -p /out \
 && cp target/release/agw-proxy target/release/agw-operator target/release/agw-webhook \
       target/release/agwctl /out/

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime-base
ARG VERSION=dev
LABEL org.opencontainers.image.source="https://github.com/agw-dev/agw" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
USER 65532:65532

FROM runtime-base AS agw-proxy
COPY --from=build /out/agw-proxy /usr/local/bin/agw-proxy
EXPOSE 8080 9091
ENTRYPOINT ["/usr/local/bin/agw-proxy"]

FROM runtime-base AS agw-operator
COPY --from=build /out/agw-operator /usr/local/bin/agw-operator
EXPOSE 9093
ENTRYPOINT ["/usr/local/bin/agw-operator"]

FROM runtime-base AS agw-webhook
COPY --from=build /out/agw-webhook /usr/local/bin/agw-webhook
EXPOSE 9443 9092
ENTRYPOINT ["/usr/local/bin/agw-webhook"]

FROM runtime-base AS agwctl
COPY --from=build /out/agwctl /usr/local/bin/agwctl
ENTRYPOINT ["/usr/local/bin/agwctl"]
