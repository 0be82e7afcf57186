"""A reference web gateway: the Users page, the accept page and a practitioner's client list
in a browser, built only on the client package (`pro_team_client`) and the services' public
HTTP APIs. Identity is a demo sign-in (pick a member or enter an email): a real gateway puts
its own identity provider there."""
