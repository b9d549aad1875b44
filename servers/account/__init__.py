"""The account service."""
