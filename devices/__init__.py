"""The reader's side: a simulator of an office morning, device provisioning, terminal bridges."""
