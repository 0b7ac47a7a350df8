# syntax=docker/dockerfile:1
#
# wsgate container image: a release build with the Swift runtime linked in
# statically, on Debian bookworm-slim, run by tini as the non-root user 10001.
#
#   docker build -t wsgate .
#   docker run --rm -p 8080:8080 wsgate                 # examples/echo.yaml: ws://localhost:8080/echo
#   docker run --rm -p 8080:8080 \
#     -v "$PWD/my.yaml:/etc/wsgate/wsgate.yaml:ro" wsgate
#   docker run --rm wsgate validate /etc/wsgate/wsgate.yaml
#
# examples/docker-compose.yml runs it with examples/production.yaml.
# scripts/lint-dockerfile runs hadolint on this file. scripts/container-proof
# runs the runtime stage without a Docker engine: it builds the binary with the
# same command, then executes this file's runtime-stage RUN and COPY lines in a
# debootstrap chroot of the same Debian release and talks to the gateway, so the
# package list and the user below are checked, not just written down.

# ---------------------------------------------------------------------------
# Build stage
# ---------------------------------------------------------------------------
FROM swift:6.3.1-bookworm AS build
WORKDIR /src

# Dependencies first: this layer is rebuilt only when Package.swift changes.
# Package.resolved is not in the repository (nor in the build context, see
# .dockerignore), so this resolves the newest versions the manifest allows.
COPY Package.swift ./
RUN swift package resolve

# The manifest names targets under Tests/ and examples/custom-extension/, so
# they must exist for it to load, even though only `wsgate` is built.
COPY Sources ./Sources
COPY Tests ./Tests
COPY examples ./examples

# --static-swift-stdlib links the Swift runtime, Foundation and Dispatch into
# the binary; what is left for the runtime stage is libc, libstdc++/libgcc_s
# and zlib (see there). The binary keeps its symbols so crash backtraces name
# functions and lines; swift-backtrace-static is the toolchain's crash reporter.
RUN swift build -c release --static-swift-stdlib --product wsgate \
 && install -D -m 0755 .build/release/wsgate /out/wsgate \
 && toolchain="$(dirname "$(readlink -f "$(command -v swift)")")/.." \
 && install -D -m 0755 "$toolchain/libexec/swift/linux/swift-backtrace-static" /out/swift-backtrace-static

# ---------------------------------------------------------------------------
# Runtime stage
# ---------------------------------------------------------------------------
FROM debian:bookworm-20250520-slim AS runtime

# What the binary loads (`ldd /usr/local/bin/wsgate`; scripts/container-proof
# prints it with the owning package of each library):
#   libstdc++6       libstdc++.so.6, and through its dependency libgcc-s1
#                    libgcc_s.so.1: the Swift runtime is partly C++
#   zlib1g           libz.so.1: permessage-deflate (compress-nio links the system zlib)
#   (libc6)          libc.so.6, libm.so.6, ld-linux: in every Debian image
# and what the container needs around it:
#   tini             PID 1: forwards SIGTERM to wsgate and reaps orphaned
#                    grandchildren of `type: process` endpoints
#   ca-certificates  the trust store, for TLS and for process endpoints whose
#                    commands call out over HTTPS
# Versions are pinned so a rebuild gets the same bits; when Debian replaces one
# (a security update), the build fails at this line: take the new version from
# `apt-cache policy PACKAGE` in a bookworm container (scripts/container-proof
# prints it when a pin no longer installs).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates=20250419~deb12u2 \
      libstdc++6=12.2.0-14+deb12u1 \
      tini=0.19.0-1+b3 \
      zlib1g=1:1.2.13.dfsg-1 \
 && rm -rf /var/lib/apt/lists/*

# A fixed, numeric, non-root user, so volume ownership can be planned and
# Kubernetes' runAsNonRoot can check it.
ARG WSGATE_UID=10001
RUN groupadd --system --gid "${WSGATE_UID}" wsgate \
 && useradd --system --no-log-init --uid "${WSGATE_UID}" --gid wsgate \
      --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin wsgate

COPY --from=build /out/wsgate /usr/local/bin/wsgate
COPY --from=build /out/swift-backtrace-static /usr/local/libexec/swift-backtrace-static
# The default configuration, owned by root and read-only to wsgate (0644
# whatever the checkout's umask). Mount your own over it (read-only), or pass
# another path after `serve`.
COPY --chmod=0644 examples/echo.yaml /etc/wsgate/wsgate.yaml

# A crash prints a symbolicated backtrace of every thread to stderr.
ENV SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/usr/local/libexec/swift-backtrace-static

USER ${WSGATE_UID}:${WSGATE_UID}
EXPOSE 8080

# On SIGTERM (docker stop, a Kubernetes pod deletion) wsgate stops accepting,
# closes every session with 1001 Going Away and waits up to shutdown_grace
# (default 10s) for the close handshakes before exiting 0; tini forwards the
# signal. Give the orchestrator's stop timeout more than that: compose's
# stop_grace_period, Kubernetes' terminationGracePeriodSeconds (15s or more).
STOPSIGNAL SIGTERM

# `wsgate healthcheck` GETs 127.0.0.1 on the port, path and scheme (https when
# server.tls is set) of /etc/wsgate/wsgate.yaml, http://127.0.0.1:8080/healthz
# without it, and exits 0 on 200 (503 while draining). No curl in the image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/wsgate", "healthcheck"]

ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/wsgate"]
CMD ["serve", "/etc/wsgate/wsgate.yaml"]
