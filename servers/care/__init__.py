"""The care service."""
