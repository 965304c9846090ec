"""Evaluation: beat tracking on the data sets, recorded sessions, and the five-architecture study."""
