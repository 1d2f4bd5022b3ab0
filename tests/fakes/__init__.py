"""Local stand-ins for the platforms (servers speaking their HTTP APIs) and a tiny brain."""
