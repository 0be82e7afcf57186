// Runs once, when the mongo container initialises an empty data volume (as the root user).
// One user per service, each able to read and write its own database only.
for (const [service, variable] of [
  ["invitations", "INVITATIONS_DB_PASSWORD"],
  ["membership", "MEMBERSHIP_DB_PASSWORD"],
  ["notifications", "NOTIFICATIONS_DB_PASSWORD"],
  ["access_control", "ACCESS_CONTROL_DB_PASSWORD"],
]) {
  const password = process.env[variable];
  if (!password) throw new Error(`${variable} is not set`);
  db.getSiblingDB(service).createUser({
    user: service,
    pwd: password,
    roles: [{ role: "readWrite", db: service }],
  });
}
