# Tierdesk application image: the same image runs the web server (default
# command), the Celery worker, Celery beat and one-shot management commands.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GUNICORN_WORKERS=3

WORKDIR /app

# An unprivileged user. The code stays owned by root (read-only for the app);
# only var/ (collected static files, embedded-mode data) is writable.
RUN groupadd --system --gid 10001 tierdesk \
 && useradd --system --uid 10001 --gid tierdesk --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin tierdesk

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
RUN mkdir -p /app/var/media && chown -R tierdesk:tierdesk /app/var

USER tierdesk

# Settings refuse the built-in development key with DEBUG off; this throwaway
# key exists only for this step and is not kept in the image.
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput

EXPOSE 8000

# Liveness only (is the process answering?); readiness is /readyz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# exec: gunicorn becomes PID 1 and receives SIGTERM for a graceful shutdown.
CMD ["sh", "-c", "exec gunicorn helpdesk.wsgi --bind 0.0.0.0:8000 --workers \"${GUNICORN_WORKERS:-3}\" --worker-tmp-dir /dev/shm --access-logfile - --error-logfile -"]
