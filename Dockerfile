# One image for the four services: docker run <image> python -m services.<name>
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY services ./services
COPY stack ./stack
RUN pip install --no-cache-dir .
USER nobody
CMD ["python", "-m", "services.invitations"]
