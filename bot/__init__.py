"""The bot: wiring, the owner's commands, the follower pipeline and the command line."""
