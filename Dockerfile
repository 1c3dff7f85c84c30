# One replica of Gradient Flow Lab. Many of them run behind a proxy that keeps
# each browser on one replica (deploy/kubernetes/, or `make classroom` on one
# machine); they share the upload store mounted at /uploads.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GFL_UPLOAD_STORE=/uploads

# Debian's Chromium: kaleido draws the PNG/SVG exports with it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/gradient-flow-lab
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY .streamlit/ .streamlit/
COPY engine/ engine/
COPY app/ app/

RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin lab \
    && mkdir /uploads && chown lab /uploads
USER 10001

EXPOSE 8501
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=2)"]
CMD ["python", "-m", "streamlit", "run", "app/streamlit_app.py", \
     "--server.address", "0.0.0.0", "--server.port", "8501"]
