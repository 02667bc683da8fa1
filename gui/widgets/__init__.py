"""Reusable widgets: status badges, the throughput chart, the stage list, the port picker."""
