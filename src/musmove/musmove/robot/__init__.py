"""Robot motion in time with music: joint limits, an adaptive beat oscillator, moves, simulation."""
