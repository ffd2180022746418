"""Reliability runs: govflow's real processes under injected faults and kill -9 (`soak`)."""
