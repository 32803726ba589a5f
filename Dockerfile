# The marsad image: `marsad setup`, `marsad ingest` and `marsad worker` (docker-compose.yml, deploy/k8s).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin marsad

# Dependencies change less often than code: install the package first, then copy deploy/.
COPY pyproject.toml README.md ./
COPY ingest ./ingest
COPY processors ./processors
RUN pip install . && marsad --help > /dev/null

# `marsad setup` reads the templates, dashboards and alert rule from /app/deploy (its working directory).
COPY deploy ./deploy

USER marsad
CMD ["marsad", "--help"]
