"""Links in messages: the one place that knows the web app's paths (KC_PUBLIC_URL + path).

The person's own violation page is built by the self-service pages (``/cua-toi/…``); the
head's queue is ``/vi-pham``. Change a path here and every message follows.
"""

from __future__ import annotations

PERSON_VIOLATION_PATH = "/cua-toi/giai-trinh/{id}"
MY_REQUESTS_PATH = "/cua-toi/de-nghi"
HEAD_QUEUE_PATH = "/vi-pham"
HEAD_REQUESTS_PATH = "/de-nghi"
SUMMARY_PATH = "/bao-cao"


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + path


def absolute(base: str, path: str) -> str:
    """``path`` of the web app as a link in a message."""
    return _join(base, path)


def person_violation(base: str, violation_id: int) -> str:
    """Where the person reads a violation and explains it (giải trình)."""
    return _join(base, PERSON_VIOLATION_PATH.format(id=violation_id))


def head_queue(base: str) -> str:
    return _join(base, HEAD_QUEUE_PATH)


def head_requests(base: str) -> str:
    """The head's queue of requests (giải trình, bổ sung giờ chấm, xin nghỉ) to decide."""
    return _join(base, HEAD_REQUESTS_PATH)


def summaries(base: str) -> str:
    return _join(base, SUMMARY_PATH)
