"""Reindex a bag cut short (recorder killed, power lost): finish its storage files, write its metadata.yaml.

Like `ros2 bag reindex`, from what the recorder flushed: it closes an mcap chunk or commits a sqlite3
transaction every second, so at most the last second is lost.
"""

import os
import sqlite3
import struct
from contextlib import closing
from pathlib import Path

from rosbags.interfaces import Connection
from rosbags.rosbag2 import Reader, ReaderError

from musmove.bag.storage import BagError, StorageFile, Topic, move_up, storage_files, write_metadata
from musmove.bag.types import definition

MCAP_MAGIC = b'\x89MCAP0\r\n'


def reindex(path: Path) -> list[Path]:
    """Make a bag cut short readable: finish its storage files and write metadata.yaml; return the files.

    The file being written when the recorder died is moved up from its folder; an mcap file is cut
    after its last complete record (the last flushed chunk) and given a footer; a sqlite3 file rolls
    back its unfinished transaction.
    """
    if not path.is_dir():
        raise BagError(f'no such bag folder: {path}')
    for folder in sorted(p for p in path.iterdir() if p.is_dir()):
        for unfinished in [*folder.glob(f'{folder.name}.mcap'), *folder.glob(f'{folder.name}.db3')]:
            _finish(unfinished)
            move_up(unfinished)
    files = storage_files(path)
    if not files:
        raise BagError(f'{path} holds no storage file (.mcap or .db3)')
    for file in files:
        _finish(file)
    write_metadata(path, _storage_of(files), *_scan(files))
    return files


def _storage_of(files: list[Path]) -> str:
    suffixes = {file.suffix for file in files}
    if len(suffixes) > 1:
        raise BagError(f'mixed storage files in one bag: {", ".join(sorted(suffixes))}')
    return 'mcap' if suffixes == {'.mcap'} else 'sqlite3'


def _finish(file: Path) -> None:
    if file.suffix == '.db3':
        with closing(sqlite3.connect(file)) as connection:  # a hot journal beside it is rolled back
            connection.execute('SELECT count(*) FROM messages').fetchone()
        file.with_name(f'{file.name}-journal').unlink(missing_ok=True)  # one left now holds nothing to undo
    elif not _has_footer(file):
        _close_mcap(file)


def _has_footer(file: Path) -> bool:
    with file.open('rb') as stream:
        if stream.seek(0, os.SEEK_END) < 45:
            return False
        stream.seek(-37, os.SEEK_END)
        tail = stream.read()
    return tail[:9] == b'\x02\x14' + bytes(7) and tail[-8:] == MCAP_MAGIC


def _close_mcap(file: Path) -> None:
    """Cut an unfinished mcap file after its last complete record and end it with DataEnd and a Footer."""
    size = file.stat().st_size
    with file.open('r+b') as stream:
        if stream.read(8) != MCAP_MAGIC:
            raise BagError(f'{file} is not an mcap file')
        end = 8
        while end + 9 <= size:
            stream.seek(end)
            opcode, length = struct.unpack('<BQ', stream.read(9))
            if opcode == 0 or end + 9 + length > size:  # zeros (a file grown but not written) or a cut record
                break
            end += 9 + length
        stream.truncate(end)
        stream.seek(end)
        data_end = struct.pack('<BQI', 0x0F, 4, 0)
        footer = struct.pack('<BQQQI', 0x02, 20, 0, 0, 0)  # no summary section
        stream.write(data_end + footer + MCAP_MAGIC)


def _scan(files: list[Path]) -> tuple[list[Topic], list[StorageFile]]:
    """Topics and per-file counts of storage files, read back with rosbags."""
    topics: dict[str, Topic] = {}
    stats = []
    for file in files:
        try:
            with Reader(file) as reader:
                stats.append(StorageFile(file.name, reader.start_time, reader.end_time - 1))
                for connection in reader.connections:
                    stats[-1].counts[connection.topic] += connection.msgcount
                    topics.setdefault(connection.topic, _topic(connection))
        except (ReaderError, OSError, sqlite3.Error) as error:
            raise BagError(f'cannot read {file}: {error}') from error
    return list(topics.values()), stats


def _topic(connection: Connection) -> Topic:
    digest = connection.digest
    if not digest:
        try:
            digest = definition(connection.msgtype)[1]
        except (KeyError, ValueError):
            digest = ''
    qos = list(connection.ext.offered_qos_profiles)
    return Topic(connection.topic, connection.msgtype, connection.msgdef.data, digest, qos)
