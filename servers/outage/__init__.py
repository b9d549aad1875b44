"""The outage service."""
