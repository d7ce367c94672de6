# One image for every component of the lab: `chaoslab serve <component>` picks the service,
# `chaoslab locust ...` runs the load generator, `chaoslab migrate` the schema migrations.
# Build: make images (tags it with the project version and loads it into kind).
# Plain Dockerfile syntax: builds with BuildKit or with the legacy builder alike.

# The Python base. On a machine with no registry, point it at one built locally
# (make images PYTHON_IMAGE=..., as the end-to-end stage does: tools/e2e/dockerfiles/python).
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# ---- build stage: a virtual environment with the wheels; compilers never reach the final image --
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/chaoslab
# Dependencies first, in their own layer: a change to the code alone does not reinstall them.
COPY pyproject.toml ./
RUN python3 -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['kubernetes']))" > requirements.txt \
 && /opt/chaoslab/bin/pip install -r requirements.txt
COPY README.md ./
COPY chaoslab ./chaoslab
COPY services ./services
COPY chaos ./chaos
COPY loadtest ./loadtest
RUN /opt/chaoslab/bin/pip install --no-deps '.[kubernetes]'

# ---- final stage: the same base, the virtual environment copied over -------------------------
FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="chaoslab" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.description="chaoslab services, chaos agent and load generator"
ENV PATH=/opt/chaoslab/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CHAOSLAB_BIND_HOST=0.0.0.0 CHAOSLAB_AGENT_STATE_DIR=/var/lib/chaoslab
COPY --from=build /opt/chaoslab /opt/chaoslab
RUN groupadd --system --gid 10001 chaoslab \
 && useradd --system --uid 10001 --gid chaoslab --no-create-home --shell /usr/sbin/nologin chaoslab \
 && mkdir -p /var/lib/chaoslab && chown chaoslab:chaoslab /var/lib/chaoslab
USER 10001:10001
# The production WSGI server (waitress) is inside `chaoslab serve`; no Flask development server.
ENTRYPOINT ["chaoslab"]
CMD ["serve", "service-a"]
