"""Alert ingestion: integrations, normalisation, dedup, routing and silences."""
