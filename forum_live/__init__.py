"""forum-live: a self-hosted live platform for virtual discussion forums."""

__version__ = "0.1.0"
