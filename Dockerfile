# One image for the four services and the web gateway:
#   docker run <image> python -m services.<name>   |   docker run <image> python -m gateway
FROM python:3.11.13-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# Dependencies first, in a layer of their own (a code change does not reinstall them), each at
# the version and hash in the lock file.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY client ./client
COPY services ./services
COPY stack ./stack
COPY gateway ./gateway
RUN pip install --no-deps ./client .
USER nobody
CMD ["python", "-m", "services.invitations"]
