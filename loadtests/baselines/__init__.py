"""Reference apps the benchmark compares the two stacks against (never used in production)."""
