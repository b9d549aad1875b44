"""The worker's job modules: each module here registers its jobs when imported
(`servers.worker.job.register`), and `load_jobs` imports them all.

Here now: `notification` (delivery), `billing` (monthly bills, daily late fees,
payment reconciliation), `housekeeping` (expired captchas and sessions), `prewarm` (the
edge's cache before the morning). Planned, each a module of its own that registers
itself the same way: planned-outage reminders, application node reminders,
complaint-risk scoring, scheduled imports.
"""
