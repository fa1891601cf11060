# liveupdates: one app instance. docker-compose.yml runs the whole stack.

# The wheel: the code with its web client, migrations and Alembic configuration inside.
FROM python:3.11-slim AS wheel
WORKDIR /src
COPY pyproject.toml README.md alembic.ini hatch_build.py ./
COPY app ./app
COPY migrations ./migrations
COPY web ./web
RUN pip wheel --no-deps --no-cache-dir -w /dist .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system liveupdates \
    && useradd --system --gid liveupdates --home-dir /app --shell /usr/sbin/nologin liveupdates

WORKDIR /app

# The wheel and its dependencies (from pyproject.toml); nothing else of the checkout.
COPY --from=wheel /dist /dist
RUN pip install /dist/*.whl && rm -r /dist
RUN mkdir -p /app/media /app/data && chown liveupdates:liveupdates /app/media /app/data

USER liveupdates
ENV MEDIA_DIR=/app/media \
    DATABASE_URL=sqlite+aiosqlite:////app/data/liveupdates.db

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

# `serve` applies pending migrations first (a no-op once the migrate service has run).
CMD ["liveupdates", "serve", "--host", "0.0.0.0", "--port", "8000"]
