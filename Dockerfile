# One tradeledger node: `tradeledger serve` on 0.0.0.0:8000.
#
# The node's home (consortium file, keys, settings) lives in the volume at
# /var/lib/tradeledger/home; a new, empty home becomes a development consortium on first start.
# Set TRADELEDGER_DATABASE_URL (postgresql+psycopg://…) to keep the ledger in PostgreSQL instead
# of the embedded SQLite file in the home (docker-compose.yml does).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY ledger ledger
COPY documents documents
COPY api api
COPY nodes nodes
COPY schemas schemas
RUN pip install . \
    && rm -rf /src \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/tradeledger \
       --create-home --shell /usr/sbin/nologin tradeledger

USER tradeledger
WORKDIR /var/lib/tradeledger
VOLUME ["/var/lib/tradeledger"]
EXPOSE 8000

# The slim image has no curl: ask /v1/health with the standard library.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/v1/health', timeout=2).status == 200 else 1)"]

# SIGTERM: uvicorn stops accepting, answers requests in flight, and the node cuts its last
# block before exiting 0 (the compose file allows 40 s for that).
STOPSIGNAL SIGTERM
CMD ["tradeledger", "serve", "--home", "/var/lib/tradeledger/home", "--host", "0.0.0.0", "--port", "8000"]
