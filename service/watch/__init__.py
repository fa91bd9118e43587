"""Watching inboxes: discovery, polling, settle and dedupe rules, webhook parsing."""
