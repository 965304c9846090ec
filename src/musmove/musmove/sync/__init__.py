"""Time synchronization of multi-rate sensor streams."""
