"""`musmove bag info`: what a bag holds, laid out like `ros2 bag info`."""

import time
from pathlib import Path

from musmove.bag.storage import open_bag, storage_files

STORAGE_IDS = {'.mcap': 'mcap', '.db3': 'sqlite3'}


def describe(path: Path) -> str:
    """Files, size, storage, duration, start and end, and each topic's type and message count."""
    reader = open_bag(path)
    try:
        files = storage_files(path) if path.is_dir() else [path]
        count = reader.message_count
        start, end = (reader.start_time, reader.end_time - 1) if count else (0, 0)
        rows = [
            ('Files', '\n'.join(f'{"":19}{f.name}' for f in files).lstrip()),
            ('Bag size', _size(sum(f.stat().st_size for f in files))),
            ('Storage id', ', '.join(sorted({STORAGE_IDS.get(f.suffix, f.suffix) for f in files}))),
            ('ROS distro', reader.ros_distro or 'unknown'),
            ('Duration', f'{(end - start) / 1e9:.9f} s'),
            ('Start', _time(start)),
            ('End', _time(end)),
            ('Messages', str(count)),
            ('Topic information', _topics(reader.topics)),
        ]
    finally:
        reader.close()
    return '\n'.join(f'{name + ":":19}{value}' for name, value in rows)


def _topics(topics: dict) -> str:
    lines = [
        f'Topic: {name} | Type: {info.msgtype} | Count: {info.msgcount} | '
        f'Serialization Format: {info.connections[0].ext.serialization_format}'
        for name, info in sorted(topics.items())
    ]
    return f'\n{"":19}'.join(lines) or 'none'


def _time(ns: int) -> str:
    seconds, rest = divmod(ns, 10**9)
    stamp = time.strftime('%b %d %Y %H:%M:%S', time.gmtime(seconds))
    return f'{stamp}.{rest:09d} UTC ({seconds}.{rest:09d})'


def _size(size: float) -> str:
    for unit in ('B', 'KiB', 'MiB'):
        if size < 1024:
            return f'{size:.1f} {unit}'
        size /= 1024
    return f'{size:.1f} GiB'
