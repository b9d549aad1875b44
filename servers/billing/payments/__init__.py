"""Payments: idempotent creation, the provider adapter and sandbox, callbacks, reconciliation."""
