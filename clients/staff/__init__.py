"""The staff CLI: talks gRPC directly to PalmGrid's services (`python -m clients.staff`)."""
