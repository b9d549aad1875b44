"""The worker: PalmGrid's scheduled background jobs (docs/runtime.md, docs/caching.md)."""
