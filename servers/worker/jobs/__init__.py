"""The worker's job modules: each module here registers its jobs when imported
(`servers.worker.job.register`), and `load_jobs` imports them all.

Here now: `notification` (delivery), `billing` (monthly bills, daily late fees,
payment reconciliation), `housekeeping` (expired captchas and sessions), `prewarm` (the
edge's cache before the morning), `care` (complaint-risk scoring; closing resolved
feedback left unrated), `outage` (the clock's transitions and 24-hour reminders),
`expansion` (connection node deadline reminders), `ingest` (the staging import).
"""
