# One image for every component of the lab: `chaoslab serve <component>` picks the service,
# `chaoslab locust ...` runs the load generator, `chaoslab migrate` the schema migrations.
# Build: make images (tags it with the project version and loads it into kind).

# ---- build stage: wheels only; compilers never reach the final image ------------------------
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY chaoslab ./chaoslab
COPY services ./services
COPY chaos ./chaos
COPY loadtest ./loadtest
RUN pip wheel --wheel-dir /wheels '.[kubernetes]'

# ---- final stage -----------------------------------------------------------------------------
FROM python:3.11.11-slim-bookworm
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="chaoslab" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.description="chaoslab services, chaos agent and load generator"
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CHAOSLAB_BIND_HOST=0.0.0.0 CHAOSLAB_AGENT_STATE_DIR=/var/lib/chaoslab
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels 'chaoslab[kubernetes]' \
 && groupadd --system --gid 10001 chaoslab \
 && useradd --system --uid 10001 --gid chaoslab --no-create-home --shell /usr/sbin/nologin chaoslab \
 && mkdir -p /var/lib/chaoslab && chown chaoslab:chaoslab /var/lib/chaoslab
USER 10001:10001
# The production WSGI server (waitress) is inside `chaoslab serve`; no Flask development server.
ENTRYPOINT ["chaoslab"]
CMD ["serve", "service-a"]
