"""The update engine: local updates, simulated OTA and campaigns. Emits events; no Qt."""
