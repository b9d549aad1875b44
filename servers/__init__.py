"""PalmGrid gRPC services and their shared runtime."""
