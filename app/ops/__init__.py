"""Operations plumbing: metrics, logs, request observation, health checks, security
headers, and how outages of the database and the broker are reported."""
