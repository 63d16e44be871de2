"""Load tests: Locust scenarios, the benchmark runner behind ``make bench`` and its baselines."""
