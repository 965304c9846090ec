"""rosbag2 bags on disk: split storage files written with rosbags, metadata.yaml, opening a bag to read.

A bag is a folder `NAME/` holding `NAME_0.mcap`, `NAME_1.mcap`, ... (or `.db3`) and `metadata.yaml`, as
rosbag2 writes it. rosbags' Writer writes one storage file per bag folder (`DIR/DIR.mcap`), so each file
is written as the bag `NAME/NAME_i/` and moved up into `NAME/` once closed; metadata.yaml for the whole
bag is written when recording ends. A recording cut short (SIGKILL, power loss) has neither:
`musmove.bag.recovery.reindex` finishes it from what was flushed.
"""

import os
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rosbags.interfaces import Connection, Qos
from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer
from rosbags.rosbag2.metadata import dump_qos_v9
from rosbags.rosbag2.storage_mcap import McapWriter

STORAGES = {'mcap': (StoragePlugin.MCAP, '.mcap'), 'sqlite3': (StoragePlugin.SQLITE3, '.db3')}
VERSION = 9  # rosbag2 metadata version, as written by ROS 2 Jazzy and later


class BagError(ValueError):
    """A bag cannot be read or written; the message says why, in one line."""


@dataclass
class Topic:
    """A recorded topic as rosbag2 describes it."""

    name: str
    msgtype: str
    msgdef: str = ''
    digest: str = ''
    qos: list[Qos] = field(default_factory=list)


@dataclass
class StorageFile:
    """One storage file of a bag: its name in the bag folder, time span [ns] and messages per topic."""

    name: str
    start: int = 2**63 - 1
    end: int = 0
    counts: Counter = field(default_factory=Counter)

    def add(self, topic: str, timestamp: int) -> None:
        self.start, self.end = min(self.start, timestamp), max(self.end, timestamp)
        self.counts[topic] += 1


class BagWriter:
    """Write a rosbag2 bag, a new storage file after `max_bytes` or `max_duration` [s] (0: never)."""

    def __init__(self, path: Path, storage: str = 'mcap', max_bytes: int = 0, max_duration: float = 0.0) -> None:
        if storage not in STORAGES:
            raise BagError(f'unknown storage {storage!r}; use one of: {", ".join(STORAGES)}')
        if path.exists():
            raise BagError(f'{path} exists already; choose another output folder')
        self.path, self.storage = path, storage
        self.max_bytes, self.max_duration = max_bytes, round(max_duration * 1e9)
        self.topics: dict[str, Topic] = {}
        self.files: list[StorageFile] = []
        path.mkdir(parents=True)
        self._open_file()

    def add_topic(self, topic: Topic) -> None:
        self.topics[topic.name] = topic
        self._connect(topic)

    def write(self, topic: str, timestamp: int, data: bytes) -> None:
        """Write one serialized message received at `timestamp` [ns]; split first if the file is full."""
        current = self.files[-1]
        if current.counts and self._full(current, timestamp):
            self._close_file()
            self._open_file()
            current = self.files[-1]
        self.writer.write(self.connections[topic], timestamp, data)
        self.unflushed += len(data)
        current.add(topic, timestamp)

    def flush(self) -> None:
        """Put everything written so far into the file: a closed mcap chunk, a committed sqlite transaction.

        rosbags has no flush of its own: this reaches into its storage writers (rosbags 0.11).
        """
        storage = self.writer.storage
        if isinstance(storage, McapWriter):
            if storage.chunk.msgs:
                storage.close_chunk()
            storage.bio.flush()
        else:
            storage.conn.commit()
        self.flushed = self._file_path().stat().st_size
        self.unflushed = 0

    def close(self) -> None:
        """Finish the last file and write metadata.yaml."""
        self._close_file()
        write_metadata(self.path, self.storage, list(self.topics.values()), self.files)

    @property
    def size(self) -> int:
        """Bytes in the storage files."""
        return sum(path.stat().st_size for path in storage_files(self.path)) + self.flushed + self.unflushed

    def _full(self, current: StorageFile, timestamp: int) -> bool:
        if self.max_bytes and self.flushed + self.unflushed >= self.max_bytes:
            return True
        return bool(self.max_duration) and timestamp - current.start >= self.max_duration

    def _file_path(self) -> Path:
        stem = Path(self.files[-1].name).stem
        return self.path / stem / self.files[-1].name

    def _open_file(self) -> None:
        plugin, suffix = STORAGES[self.storage]
        stem = f'{self.path.name}_{len(self.files)}'
        self.files.append(StorageFile(stem + suffix))
        self.writer = Writer(self.path / stem, version=VERSION, storage_plugin=plugin)
        self.writer.open()
        self.connections: dict[str, Connection] = {}
        self.flushed = self.unflushed = 0
        for topic in self.topics.values():
            self._connect(topic)

    def _connect(self, topic: Topic) -> None:
        self.connections[topic.name] = self.writer.add_connection(
            topic.name, topic.msgtype, msgdef=topic.msgdef, rihs01=topic.digest, offered_qos_profiles=topic.qos
        )

    def _close_file(self) -> None:
        self.writer.close()
        move_up(self._file_path())
        self.flushed = self.unflushed = 0


def move_up(path: Path) -> None:
    """Move a storage file out of the single-file bag rosbags wrote around it."""
    path.replace(path.parent.parent / path.name)
    (path.parent / 'metadata.yaml').unlink(missing_ok=True)
    path.parent.rmdir()


def storage_files(path: Path) -> list[Path]:
    """The storage files of a bag folder, in recording order (by the index after the last '_')."""
    files = [p for p in path.iterdir() if p.suffix in ('.mcap', '.db3') and p.is_file()]
    return sorted(files, key=lambda p: (int(m.group(1)) if (m := re.search(r'_(\d+)$', p.stem)) else -1, p.name))


def write_metadata(path: Path, storage: str, topics: list[Topic], files: list[StorageFile]) -> None:
    """Write the bag's metadata.yaml (rosbag2 version 9) atomically."""
    start = min((f.start for f in files if f.counts), default=0)
    end = max((f.end for f in files if f.counts), default=0)
    totals = sum((f.counts for f in files), Counter())
    information = {
        'version': VERSION,
        'storage_identifier': storage,
        'relative_file_paths': [f.name for f in files],
        'duration': {'nanoseconds': max(0, end - start)},
        'starting_time': {'nanoseconds_since_epoch': start},
        'message_count': totals.total(),
        'topics_with_message_count': [
            {'topic_metadata': _topic_metadata(topic), 'message_count': totals[topic.name]} for topic in topics
        ],
        'compression_format': '',
        'compression_mode': '',
        'files': [_file_metadata(f) for f in files],
        'custom_data': None,
        'ros_distro': os.environ.get('ROS_DISTRO', 'kilted'),
    }
    temporary = path / 'metadata.yaml.tmp'
    temporary.write_text(yaml.safe_dump({'rosbag2_bagfile_information': information}, sort_keys=False))
    temporary.replace(path / 'metadata.yaml')


def _topic_metadata(topic: Topic) -> dict:
    return {
        'name': topic.name,
        'type': topic.msgtype,
        'serialization_format': 'cdr',
        'offered_qos_profiles': dump_qos_v9(topic.qos),
        'type_description_hash': topic.digest,
    }


def _file_metadata(file: StorageFile) -> dict:
    start = file.start if file.counts else 0
    return {
        'path': file.name,
        'starting_time': {'nanoseconds_since_epoch': start},
        'duration': {'nanoseconds': max(0, file.end - start)},
        'message_count': file.counts.total(),
    }


def open_bag(path: Path) -> Reader:
    """An opened rosbags Reader of a bag folder or storage file, or a BagError saying what is wrong."""
    if not path.exists():
        raise BagError(f'no such bag: {path}')
    if path.is_dir() and not (path / 'metadata.yaml').exists():
        if storage_files(path) or any(p.is_dir() for p in path.iterdir()):
            raise BagError(f'{path} has no metadata.yaml (recording cut short?); run: musmove bag reindex {path}')
        raise BagError(f'{path} is not a bag: no metadata.yaml and no storage file')
    try:
        reader = Reader(path)
        reader.open()
    except (ReaderError, OSError, KeyError, ValueError, sqlite3.Error) as error:
        hint = f'; if the recording was cut short, run: musmove bag reindex {path}' if 'magic' in str(error) else ''
        raise BagError(f'cannot read bag {path}: {error}{hint}') from error
    return reader
