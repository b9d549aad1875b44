"""The worker: one process running PalmGrid's scheduled jobs (docs/worker.md).

It is not a gRPC service: it calls the services as the `worker` service account and
keeps its job state in a small database of its own (tables `worker_*`).
"""
