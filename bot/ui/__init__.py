"""Block Kit, built in one place per message kind and validated against Slack's limits."""
