"""Outbound notifications (thông báo): what to say to whom, rendered from templates and sent
over e-mail or a signed webhook by the one scheduler, from the outbox (store/outbox.py)."""
