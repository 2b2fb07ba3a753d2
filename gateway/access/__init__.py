"""Users, roles, sessions, the permission matrix."""
