"""The access_control service."""
