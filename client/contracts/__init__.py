"""The wire contract as pydantic v2 models: envelope, messages, topics."""
