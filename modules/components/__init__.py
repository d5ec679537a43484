"""One module per platform piece, each defining one PlatformComponent."""
