"""The web process: dashboard, JSON API, webhooks, health and metrics."""
