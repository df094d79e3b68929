"""What people do, per domain, scope-checked: the one place for the rules of review, excuses,
summaries and exports. Both adapters (``api/`` JSON and ``web/`` pages) call these functions."""
