# vitals container image: one static binary in an otherwise empty image.
#
#   docker build -t vitals .                  # builds the binary in the rust stage
#   scripts/build_image.sh                    # buildah, offline, from a binary built on the host
#
# The binary is statically linked against glibc (RUSTFLAGS=-C target-feature=+crt-static on
# the gnu target; no musl toolchain needed). It only reads the host's /proc, /sys and / mounted
# under /host, writes nothing, needs no capability and no shell, so the image is FROM scratch,
# runs as nobody (65534) and works with a read-only root filesystem.

# The stage that provides /out/vitals: "build" compiles it, "prebuilt" takes it from the build
# context (a directory holding only the binary, as scripts/build_image.sh prepares).
ARG BINARY_FROM=build

FROM docker.io/library/rust:1-bookworm AS build
WORKDIR /src
COPY . .
ARG VITALS_GIT_REVISION=unknown
RUN RUSTFLAGS='-C target-feature=+crt-static' VITALS_GIT_REVISION="${VITALS_GIT_REVISION}" \
        cargo build --release --locked --target x86_64-unknown-linux-gnu \
    && mkdir /out \
    && strip -o /out/vitals target/x86_64-unknown-linux-gnu/release/vitals \
    && ! ldd /out/vitals | grep -q "=>"

FROM scratch AS prebuilt
COPY vitals /out/vitals

FROM ${BINARY_FROM} AS binary

FROM scratch
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="vitals" \
      org.opencontainers.image.description="Host metrics daemon: psutil's numbers with OpenTelemetry names, served to Prometheus on :9977/metrics" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=binary --chmod=0555 /out/vitals /usr/bin/vitals
USER 65534:65534
EXPOSE 9977
ENTRYPOINT ["/usr/bin/vitals"]
# The host's filesystems, mounted read-only: -v /proc:/host/proc:ro -v /sys:/host/sys:ro
# -v /:/host/root:ro,rslave (see deploy/kubernetes/daemonset.yaml).
CMD ["--procfs", "/host/proc", "--sysfs", "/host/sys", "--rootfs", "/host/root"]
