"""The dead-letter tool: list, show, replay and purge what the services dead-lettered."""
