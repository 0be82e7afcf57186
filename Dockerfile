# One image for the four services: docker run <image> python -m services.<name>
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# Dependencies first, in a layer of their own: a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p contracts services stack demo \
    && pip install . \
    && pip uninstall -y pro-team-membership
COPY contracts ./contracts
COPY services ./services
COPY stack ./stack
RUN pip install --no-deps .
USER nobody
CMD ["python", "-m", "services.invitations"]
