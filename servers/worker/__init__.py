"""The worker: one process running PalmGrid's scheduled jobs (docs/worker.md).

It calls the services as the `worker` service account, keeps its job state in a small
database of its own (tables `worker_*`), and serves that state to staff through its own
gRPC API, palmgrid.worker.v1.WorkerService (`api.py`, `service.py`).
"""
