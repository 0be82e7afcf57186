"""The services' in-memory fixtures, shared by the handler test modules."""

from tests.handlers.test_invitation_handlers import invitations as invitations
from tests.handlers.test_membership_handlers import membership as membership
