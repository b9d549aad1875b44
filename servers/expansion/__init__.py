"""The expansion service."""
