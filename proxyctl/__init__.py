"""``proxyctl``: run and operate the two proxy stacks (and the SAP AI Core simulator)."""
