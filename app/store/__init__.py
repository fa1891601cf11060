"""Storage: the database and its bounds (`db`), the event log and offsets (`eventlog`),
Idempotency-Keys, publishing drafts and scheduled entries, API tokens (`auth`), uploaded
images (`media`), rate limits (`rate_limits`: posts per token, questions) and the Redis clients."""
