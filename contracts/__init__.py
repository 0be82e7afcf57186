"""The wire contract of CONTRACTS.md as pydantic v2 models: envelope, messages, topics."""
