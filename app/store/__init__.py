"""Storage: the database and its bounds (`db`), the event log and offsets (`eventlog`),
Idempotency-Keys, publishing drafts and scheduled entries, API tokens (`auth`), uploaded
images (`media`), posts per token (`post_rate`) and the Redis clients."""
