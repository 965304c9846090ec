"""Sensor sources: audio, IMU and motion-capture files as arrays, the bundled data and the shared data sets."""
