FROM python:3.11-slim
WORKDIR /app
# A JRE for pyspark's driver (SKEWLESS_OFFLINE_ENGINE=spark); the executors run in Spark's image.
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir uv
COPY pyproject.toml uv.lock README.md ./
COPY services ./services
COPY lineage ./lineage
COPY feature_repo ./feature_repo
COPY migrations ./migrations
COPY alembic.ini ./
RUN uv sync --frozen --no-dev
ENV PATH="/app/.venv/bin:$PATH"
