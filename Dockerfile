# The code location image: the gRPC server the Dagster webserver and daemon load definitions
# from, and the image every run pod (K8sRunLauncher) executes `metrics`' assets in.
# Build: docker build -t social-metrics:$(git rev-parse --short HEAD) .
# Dependencies come from uv.lock exactly (`uv sync --frozen`), without the dev group.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN pip install --no-cache-dir uv==0.13.8

WORKDIR /app
# Dependencies first: this layer is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --extra k8s --no-install-project

COPY metrics ./metrics
COPY assets ./assets
COPY pipelines ./pipelines
COPY workspace.yaml ./
RUN uv sync --frozen --no-dev --extra k8s \
    && useradd --create-home --uid 10001 metrics
USER 10001

EXPOSE 3030
CMD ["dagster", "api", "grpc", "--host", "0.0.0.0", "--port", "3030", "--module-name", "pipelines.definitions"]
