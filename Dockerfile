# One image for every node of the federation; the settings (BX_*) make each node itself.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 BX_HOST=0.0.0.0 BX_DATA_DIR=/var/lib/bx
WORKDIR /srv/gateway
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY schemas ./schemas
COPY partners ./partners
COPY deploy ./deploy
RUN pip install --no-cache-dir -e . && useradd --system --uid 999 --home /var/lib/bx bx \
    && mkdir -p /var/lib/bx && chown bx /var/lib/bx
USER bx
VOLUME /var/lib/bx
EXPOSE 8600
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:8600/bx/v1/health').status_code != 200)"
CMD ["gateway", "serve"]
