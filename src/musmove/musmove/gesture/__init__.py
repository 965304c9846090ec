"""The partner's movement: kinematics and the gesture-phase features the models read."""
