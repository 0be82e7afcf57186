"""What every service shares: settings, Kafka and Mongo factories, inbound parsing, DLQ,
outbox relay, idempotent handling, JSON logs and the health/HTTP app."""
