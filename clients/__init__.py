"""Clients: the staff CLI (gRPC) and the Python client for the JSON edge."""
