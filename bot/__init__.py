"""oncelink: one-time secrets for Slack."""
