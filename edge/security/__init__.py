"""The edge's security: sessions, access checks, identity forwarding, HTTPS, headers,
CORS and audit of refusals. `build_secure_edge` puts it all (with field encryption,
rate limits and caching) around the transcoder; docs/security.md explains the rules."""
