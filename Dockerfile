# meshbot's image: `meshbot serve` as a non-root user on a slim Python, dependencies pinned by
# requirements.lock (generated from the tested virtualenv by deploy/lock.py).
#
#   docker build -t ghcr.io/meshbot/meshbot:0.1.0 .     # the registry is a placeholder
#
# Two stages: `build` installs wheels into a virtualenv (binary wheels only, so no compiler is
# needed anywhere); the final stage copies that virtualenv onto a fresh base and nothing else.
# Keep the Python minor version in step with the one deploy/lock.py ran on (3.11).

FROM python:3.11.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/meshbot
COPY requirements.lock ./
RUN /opt/meshbot/bin/pip install --only-binary=:all: --requirement requirements.lock
COPY pyproject.toml setup.py README.md LICENSE ./
COPY bot ./bot
COPY handlers ./handlers
COPY diagnostics ./diagnostics
# The demo mesh, which the wheel carries as package data (setup.py): `meshbot demo` in the image.
COPY examples/demo-mesh ./examples/demo-mesh
# meshbot itself (pure Python); its dependencies are already there, exactly as locked. The demo
# runs once from the installed package, outside the source tree, so a missing file fails the build.
RUN /opt/meshbot/bin/pip install --no-deps --constraint requirements.lock . \
 && /opt/meshbot/bin/pip check \
 && cd / && /opt/meshbot/bin/meshbot demo --output json >/dev/null \
 && /opt/meshbot/bin/meshbot --version \
 && /opt/meshbot/bin/pip uninstall --yes pip setuptools

FROM python:3.11.11-slim-bookworm
LABEL org.opencontainers.image.title="meshbot" \
      org.opencontainers.image.source="https://github.com/meshbot/meshbot" \
      org.opencontainers.image.description="Istio mesh troubleshooting runbooks as Slack commands" \
      org.opencontainers.image.licenses="Apache-2.0"
# Graphviz lays out the mesh topology picture (`dot`, run with a timeout and a size bound), with
# a font for its labels; runtime packages only, no build tools, apt's lists removed.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends graphviz fonts-liberation2 \
 && rm -rf /var/lib/apt/lists/* \
 && dot -V
RUN groupadd --system --gid 10001 meshbot \
 && useradd --system --uid 10001 --gid meshbot --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin meshbot \
 && mkdir -p /etc/meshbot/kubeconfigs
COPY --from=build /opt/meshbot /opt/meshbot
# The root filesystem is read-only in the cluster: nothing writes bytecode, and matplotlib (the
# digest's chart) and fontconfig (Graphviz's labels) keep their caches under /tmp, an emptyDir
# there. Blocking Kubernetes calls run
# on a thread pool; two malloc arenas instead of glibc's per-thread default keep its RSS down
# (bench/mesh_scale.py, 2,000 pods per cluster: peak 606 MB -> 479 MB).
ENV PATH=/opt/meshbot/bin:$PATH \
    MALLOC_ARENA_MAX=2 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    XDG_CACHE_HOME=/tmp/cache \
    MPLBACKEND=Agg
USER 10001:10001
EXPOSE 3000
ENTRYPOINT ["meshbot"]
CMD ["serve"]
