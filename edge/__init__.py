"""The edge: JSON/REST to gRPC transcoding, sessions, encryption and caching for phones."""
