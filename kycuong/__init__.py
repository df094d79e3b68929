"""Kỷ Cương: the application shell (settings, logging, CLI) around the domain packages."""
