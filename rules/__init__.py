"""The pure rules core (no I/O): calendar, policy, and the evaluation of a working day."""
