"""Layer 4: replay request traces against simulated deployments (continuous batching, paged KV, SLOs, capacity)."""
