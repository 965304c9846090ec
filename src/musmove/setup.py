"""ament_python build of musmove: library, one console entry point per node, and share files."""

import os
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = 'musmove'
HERE = Path(__file__).resolve().parent
WORKSPACE = HERE.parent.parent  # launch/, config/ and models/ live at the repository root

NODES = {
    'audio_source': 'musmove.nodes.audio_source:main',
    'beat_tracker': 'musmove.nodes.beat_tracker:main',
    'gesture_phase': 'musmove.nodes.gesture_phase:main',
    'partner_beat': 'musmove.nodes.partner_beat:main',
    'imu_source': 'musmove.nodes.imu_source:main',
    'mocap_source': 'musmove.nodes.mocap_source:main',
    'robot_controller': 'musmove.nodes.robot_controller:main',
    'robot_sim': 'musmove.nodes.robot_sim:main',
    'synchronizer': 'musmove.nodes.synchronizer:main',
}


def share(folder: Path, target: str) -> list[tuple[str, list[str]]]:
    """data_files entries installing every file under `folder` into share/musmove/`target`."""
    files = sorted(p for p in folder.rglob('*') if p.is_file() and '__pycache__' not in p.parts)
    groups: dict[str, list[str]] = {}
    for path in files:
        destination = Path('share', PACKAGE, target, path.parent.relative_to(folder))
        groups.setdefault(str(destination), []).append(os.path.relpath(path, HERE))
    return sorted(groups.items())


setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', [f'resource/{PACKAGE}']),
        (f'share/{PACKAGE}', ['package.xml']),
        ('bin', ['bin/musmove']),
        *share(HERE / 'data', 'data'),
        *share(WORKSPACE / 'launch', 'launch'),
        *share(WORKSPACE / 'config', 'config'),
        *share(WORKSPACE / 'models', 'models'),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='musmove developers',
    maintainer_email='musmove@example.org',
    description='Robots that move in time with music and with their human partners.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [f'{name} = {target}' for name, target in NODES.items()],
    },
)
