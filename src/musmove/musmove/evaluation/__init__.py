"""Evaluation: beat tracking on the data sets, recorded sessions, and the five-architecture study."""

PEERS = ('madmom-online', 'madmom-offline', 'beatnet-online', 'beatnet-offline')  # the evaluation extra's trackers
BEAT_METHODS = ('causal', 'offline', 'librosa', 'essentia', *PEERS)  # the methods of `musmove eval-beats`
