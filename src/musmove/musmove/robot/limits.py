"""Joint limits, and a limiter that makes any stream of position targets safe to command.

The limiter keeps a commanded position q and velocity v per joint. Every control period dt it
picks the next velocity so that |v| <= v_max, |dv| <= a_max dt, and the joint can still brake to
a standstill before its position limits; the command q + v dt then never jumps. With a braking
deceleration of a_max applied step by step, a joint at distance d from a limit stops in time iff
v dt + v^2 / (2 a_max) <= d, that is v <= sqrt((a_max dt)^2 + 2 a_max d) - a_max dt, the
discrete form of the familiar sqrt(2 a d). Braking at a_max keeps that bound true at every later
step, so the limits hold for any target stream, whatever it asks.
"""

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from os import PathLike

import numpy as np
from numpy.typing import ArrayLike

FIELDS = ('lower', 'upper', 'velocity', 'acceleration')


@dataclass(frozen=True)
class JointLimits:
    """Position [rad or m], velocity [/s] and acceleration [/s^2] limits of named joints."""

    names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    velocity: np.ndarray
    acceleration: np.ndarray

    def __post_init__(self) -> None:
        for field in FIELDS:
            value = np.asarray(getattr(self, field), dtype=np.float64)
            if value.shape != (len(self.names),) or np.isnan(value).any():
                raise ValueError(f'{field}: one number per joint expected, got {value}')
            value.flags.writeable = False
            object.__setattr__(self, field, value)
        if not np.all(self.lower <= self.upper):
            raise ValueError('lower limits must not exceed upper limits')
        if not (np.all(self.velocity > 0) and np.all(self.acceleration > 0)):
            raise ValueError('velocity and acceleration limits must be positive (missing in the URDF?)')

    @classmethod
    def from_dict(cls, config: Mapping[str, Mapping[str, float]]) -> 'JointLimits':
        """Limits from {joint: {'lower', 'upper', 'velocity', 'acceleration'}}, e.g. a YAML file."""
        names = tuple(config)
        return cls(names, *(np.array([config[name][field] for name in names], dtype=float) for field in FIELDS))

    @classmethod
    def from_urdf(
        cls,
        path: str | PathLike,
        acceleration: float | Mapping[str, float],
        joints: Sequence[str] | None = None,
        overrides: Mapping[str, Mapping[str, float]] | None = None,
    ) -> 'JointLimits':
        """Limits of the movable joints of a URDF (`<limit lower upper velocity>`).

        URDF has no acceleration limits: `acceleration` gives them, one for all joints or per
        joint. Continuous joints have no position limits. `joints` selects and orders joints
        (default: every revolute, prismatic and continuous joint, in file order); `overrides`
        replaces single values per joint, e.g. a lower velocity for a first session.
        """
        table: dict[str, dict[str, float]] = {}
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as error:
            raise ValueError(f'not a URDF (XML): {error}') from None
        for joint in root.iter('joint'):
            kind = joint.get('type')
            if kind not in ('revolute', 'prismatic', 'continuous'):
                continue
            limit = joint.find('limit')
            attrib = {} if limit is None else limit.attrib
            bounded = kind != 'continuous'
            table[joint.get('name', '')] = {
                'lower': float(attrib.get('lower', 0.0)) if bounded else -np.inf,
                'upper': float(attrib.get('upper', 0.0)) if bounded else np.inf,
                'velocity': float(attrib.get('velocity', 0.0)),
            }
        names = list(table) if joints is None else list(joints)
        missing = [name for name in names if name not in table]
        if missing:
            raise KeyError(f'no movable joints {missing} in {path}')
        for name in names:
            table[name]['acceleration'] = (
                acceleration[name] if isinstance(acceleration, Mapping) else float(acceleration)
            )
            table[name].update((overrides or {}).get(name, {}))
        return cls.from_dict({name: table[name] for name in names})

    def select(self, names: Sequence[str]) -> 'JointLimits':
        """The limits of some joints, in the given order."""
        index = [self.names.index(name) for name in names]
        return JointLimits(tuple(names), *(getattr(self, field)[index] for field in FIELDS))

    def violations(self, positions: np.ndarray, dt: float, tolerance: float = 1e-9) -> int:
        """Count of position, velocity and acceleration limit violations of an (n, joints) command series."""
        q = np.asarray(positions, dtype=np.float64)
        v = np.diff(q, axis=0) / dt
        a = np.diff(v, axis=0) / dt
        return int(
            np.count_nonzero(q < self.lower - tolerance)
            + np.count_nonzero(q > self.upper + tolerance)
            + np.count_nonzero(np.abs(v) > self.velocity * (1 + tolerance) + tolerance)
            + np.count_nonzero(np.abs(a) > self.acceleration * (1 + tolerance) + tolerance / dt)
        )


class Limiter:
    """Turns position targets, one per control period `dt`, into commands within `limits`.

    A target that can be followed within the limits is reproduced exactly (the feed-forward of
    its own velocity); otherwise the command approaches it as fast as allowed, braking so as to
    arrive without overshoot. Non-finite targets are ignored: that joint brakes to a standstill.
    """

    def __init__(self, limits: JointLimits, dt: float, position: ArrayLike) -> None:
        if dt <= 0:
            raise ValueError('dt must be positive')
        self.limits, self.dt = limits, float(dt)
        self.reset(position)

    def reset(self, position: ArrayLike, velocity: ArrayLike | None = None) -> None:
        """Start again from a measured position (and velocity, default at rest)."""
        self.position = np.array(position, dtype=np.float64)
        if self.position.shape != self.limits.lower.shape or not np.isfinite(self.position).all():
            raise ValueError(f'{len(self.limits.names)} finite positions expected, got {position}')
        self.velocity = np.zeros_like(self.position) if velocity is None else np.array(velocity, dtype=np.float64)
        self._target = np.full_like(self.position, np.nan)

    def braking_speed(self, distance: np.ndarray, acceleration: np.ndarray) -> np.ndarray:
        """The highest speed from which a joint still stops within `distance` (braking step by step)."""
        step = acceleration * self.dt
        return np.sqrt(step * step + 2 * acceleration * np.maximum(distance, 0.0)) - step

    def step(self, target: ArrayLike | None, speed: float = 1.0) -> np.ndarray:
        """The next command towards `target` (None: brake every joint); `speed` in (0, 1] slows the approach."""
        if not 0 < speed <= 1:
            raise ValueError(f'speed must be in (0, 1], got {speed}')
        lim, dt, q, v = self.limits, self.dt, self.position, self.velocity
        r = np.full_like(q, np.nan) if target is None else np.asarray(target, dtype=np.float64)
        valid = np.isfinite(r)
        r = np.clip(np.where(valid, r, q), lim.lower, lim.upper)
        previous = np.isfinite(self._target)
        feed = np.where(valid & previous, (r - np.where(previous, self._target, r)) / dt, 0.0)
        error = np.where(previous, self._target, r) - q  # tracking error before this step
        v_soft, a_soft = speed * lim.velocity, speed * lim.acceleration
        approach = np.sign(error) * np.minimum(np.abs(error) / dt, self.braking_speed(np.abs(error), a_soft))
        wanted = np.where(valid, np.clip(feed + approach, -v_soft, v_soft), 0.0)
        wanted = np.clip(wanted, v - a_soft * dt, v + a_soft * dt)
        # Hard limits last: stop before the position limits, top speed, full acceleration.
        top = np.minimum(lim.velocity, self.braking_speed(lim.upper - q, lim.acceleration))
        bottom = -np.minimum(lim.velocity, self.braking_speed(q - lim.lower, lim.acceleration))
        v_next = np.clip(np.clip(wanted, bottom, top), v - lim.acceleration * dt, v + lim.acceleration * dt)
        # The clip only removes rounding; a joint started outside its limits is walked back, not jumped.
        self.position = np.clip(q + v_next * dt, np.minimum(lim.lower, q), np.maximum(lim.upper, q))
        self.velocity = (self.position - q) / dt
        self._target = np.where(valid, r, np.nan)
        return self.position.copy()
