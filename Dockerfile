# The one PalmGrid image: every process (edge, the eight services, the worker, the
# migrate command, the staff CLI) runs from it with its own command (deploy/k8s/).
# Dependencies come from the same lock file as every other environment.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app:/app/generated \
    PALMGRID_PROFILE=production

WORKDIR /app
COPY requirements/lock.txt requirements/lock.txt
RUN pip install --no-cache-dir -r requirements/lock.txt

COPY cachetags cachetags
COPY clients clients
COPY edge edge
COPY generated generated
COPY palmlib palmlib
COPY servers servers

RUN useradd --system --uid 10001 --home-dir /app palmgrid
USER 10001

# Ports: the edge 8443; services 50051…50058; Prometheus 9090 (deploy/k8s).
CMD ["python", "-m", "servers.migrate", "--help"]
