# The Kỷ Cương application image: one image, the role is the command (ingest, api, scheduler).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY kycuong ./kycuong
COPY store ./store
COPY ingest ./ingest
COPY rules ./rules
COPY runner ./runner
COPY services ./services
COPY api ./api
COPY devices ./devices
COPY deploy ./deploy
RUN pip install --no-cache-dir . && useradd --system --uid 10001 kycuong
USER kycuong
ENTRYPOINT ["kycuong"]
CMD ["ingest"]
