# syntax=docker/dockerfile:1
# Small images for agw's binaries: agw-proxy (the data plane) and agwctl.
#
#   docker build --target agw-proxy -t ghcr.io/agw-dev/agw-proxy:dev .
#   docker build --target agwctl    -t ghcr.io/agw-dev/agwctl:dev .
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
    cargo build --release --locked -p agw-proxy -p agwctl \
 && mkdir -p /out \
 && cp target/release/agw-proxy target/release/agwctl /out/

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

FROM runtime-base AS agwctl
COPY --from=build /out/agwctl /usr/local/bin/agwctl
ENTRYPOINT ["/usr/local/bin/agwctl"]
