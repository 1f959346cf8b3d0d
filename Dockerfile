# Placeholder until the container issue: not built or tested in CI yet (this machine has no
# container engine). Intended shape: a static build copied into an empty image, reading the
# host's filesystems mounted under /host.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
COPY --from=build /src/target/release/vitals /usr/local/bin/vitals
EXPOSE 9977
ENTRYPOINT ["/usr/local/bin/vitals", "--procfs", "/host/proc", "--sysfs", "/host/sys", "--rootfs", "/host/root"]
