"""musmove: robots that move in time with music and with the humans dancing beside them."""

__version__ = '0.1.0'
