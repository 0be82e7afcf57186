"""The invitations service: invite, resend, revoke, accept, expire."""
