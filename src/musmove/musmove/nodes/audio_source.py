"""audio_source: publish AudioFrame messages from an audio file or a live microphone.

Topics:
    audio (musmove_msgs/AudioFrame, reliable: `musmove.nodes.AUDIO_QOS`): frames of `hop_size` samples per channel.

Each frame is stamped with the capture time of its first sample. For a file that is the
start time plus sample index / sample_rate (plus `time_offset`), so a replay is deterministic.
"""

from pathlib import Path

import numpy as np
from rclpy.duration import Duration
from rclpy.time import Time

from musmove.nodes import AUDIO_QOS, ConfigurationError, spin
from musmove.nodes.replay import FileSource
from musmove.sources.audio import load_audio
from musmove_msgs.msg import AudioFrame


class AudioSource(FileSource):
    """Publish a file (paced in real time or as fast as possible) or a microphone as frames."""

    def __init__(self) -> None:
        super().__init__('audio_source')
        self.declare_replay_parameters('Audio file to play (wav, flac, ogg, mp3, ...); empty: microphone.')
        self.device = self.parameter('device', '', 'PortAudio input device, name or index; empty: default.')
        self.sample_rate = self.parameter(
            'sample_rate', 22050, 'Published sample rate [Hz].', minimum=1, low=1000, high=384_000
        )
        self.channels = self.parameter('channels', 1, 'Published channels; files are down-mixed.', minimum=1, high=64)
        self.hop_size = self.parameter('hop_size', 512, 'Samples per channel in each frame.', minimum=1, high=65_536)
        self.frame_id = self.frame_id or (Path(self.file).stem if self.file else 'microphone')
        self.audio_publisher = self.create_publisher(AudioFrame, 'audio', AUDIO_QOS)
        self.frame_index = 0
        if self.file:
            self._start_file()
        else:
            self._start_microphone()

    def frame(self, stamp: Time, samples: np.ndarray) -> AudioFrame:
        """An AudioFrame holding samples of shape (n, channels)."""
        message = AudioFrame(sample_rate=self.sample_rate, channels=self.channels, frame_index=self.frame_index)
        message.header.stamp = stamp.to_msg()
        message.header.frame_id = self.frame_id
        message.samples = samples.astype(np.float32).ravel()
        self.frame_index += 1
        return message

    # --- file ---------------------------------------------------------------
    def _start_file(self) -> None:
        try:
            self.audio = load_audio(self.file, self.sample_rate, self.channels)
        except ValueError as error:
            raise ConfigurationError(str(error)) from error
        if len(self.audio) == 0:
            raise ConfigurationError(f'audio file {self.file} holds no samples')
        frames = -(-len(self.audio) // self.hop_size)
        starts = np.arange(frames, dtype=np.int64) * self.hop_size
        hop_ns = self.hop_size * 10**9 // self.sample_rate
        self.start_replay(starts * 10**9 // self.sample_rate, self.audio_publisher, self._publish_frame, hop_ns)

    def _publish_frame(self, index: int, stamp: Time) -> None:
        """Publish frame `index`; the file's last, partial frame is padded with zeros as a device would."""
        samples = self.audio[index * self.hop_size : (index + 1) * self.hop_size]
        if len(samples) < self.hop_size:
            samples = np.pad(samples, ((0, self.hop_size - len(samples)), (0, 0)))
        self.audio_publisher.publish(self.frame(stamp, samples))

    # --- microphone -----------------------------------------------------------
    def _start_microphone(self) -> None:
        try:
            import sounddevice
        except OSError as error:  # PortAudio itself is missing
            raise ConfigurationError(
                f'no microphone support ({error}); install libportaudio2, or set the `file` parameter to play a file'
            ) from error
        if not any(device['max_input_channels'] > 0 for device in sounddevice.query_devices()):
            raise ConfigurationError('no audio input device found; set the `file` parameter to play a file')
        device = int(self.device) if self.device.isdigit() else (self.device or None)
        try:
            self.stream = sounddevice.InputStream(
                samplerate=self.sample_rate,
                channels=self.channels,
                blocksize=self.hop_size,
                device=device,
                dtype='float32',
                callback=self._on_microphone,
            )
        except (sounddevice.PortAudioError, ValueError) as error:
            raise ConfigurationError(f'cannot open input device {self.device or "(default)"}: {error}') from error
        self.stream.start()
        self.get_logger().info(f'recording from {self.stream.device} at {self.sample_rate} Hz')

    def _on_microphone(self, samples: np.ndarray, frames: int, time_info, status) -> None:
        """PortAudio callback: stamp the block with the ADC time of its first sample."""
        if status:
            self.get_logger().warning(f'microphone: {status}')
        latency_ns = round(1e9 * (time_info.currentTime - time_info.inputBufferAdcTime))
        stamp = self.get_clock().now() - Duration(nanoseconds=latency_ns)
        self.audio_publisher.publish(self.frame(stamp, samples))

    def destroy_node(self) -> None:
        if stream := getattr(self, 'stream', None):
            stream.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return spin(AudioSource, args)
