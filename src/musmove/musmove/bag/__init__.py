"""Record and replay real rosbag2 bags (mcap or sqlite3) with the rosbags library.

- `record`: subscribe to every topic (or the given ones) with serialized CDR passthrough and write a bag,
  split by size or duration, flushed every second so a recording cut short stays readable.
- `play`: republish a bag's messages with their recorded spacing (rate, loop, start offset, topics), /clock.
- `describe`: `bag info`; `reindex`: finish a bag whose recorder was killed.
"""

from musmove.bag.info import describe
from musmove.bag.player import play
from musmove.bag.recorder import Recorder, record
from musmove.bag.recovery import reindex
from musmove.bag.storage import BagError, BagWriter, Topic, open_bag, storage_files

__all__ = [
    'BagError',
    'BagWriter',
    'Recorder',
    'Topic',
    'describe',
    'open_bag',
    'play',
    'record',
    'reindex',
    'storage_files',
]
