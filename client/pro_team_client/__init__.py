"""A typed client of the Pro account team management services, for a gateway: send commands
and await their outcomes, read the public events, call the HTTP APIs. The wire contract it
speaks is the `contracts` package shipped alongside (messages, schemas, topics)."""

from pro_team_client.connection import KafkaConnection
from pro_team_client.http import ApiProblem, ServiceUrls, TeamApi
from pro_team_client.kafka import TeamClient
from pro_team_client.outcomes import CommandRejectedError, Event, Outcome, OutcomeTimeout

__all__ = [
    "ApiProblem",
    "CommandRejectedError",
    "Event",
    "KafkaConnection",
    "Outcome",
    "OutcomeTimeout",
    "ServiceUrls",
    "TeamApi",
    "TeamClient",
]
