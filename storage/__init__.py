"""Tables, the engine and queries. Knows nothing about Slack."""
