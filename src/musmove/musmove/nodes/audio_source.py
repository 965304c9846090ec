"""audio_source: publish AudioFrame messages from an audio file or a live microphone.

Topics:
    audio (musmove_msgs/AudioFrame, reliable: `musmove.nodes.AUDIO_QOS`): frames of `hop_size` samples per channel.

Each frame is stamped with the time its first sample is heard:
- a file: the start time plus sample index / sample_rate (plus `time_offset`), so a replay is
  deterministic. With `playback` the file is also played on the sound card (PortAudio output),
  scheduled so that each sample is heard at its stamp (`musmove.sources.audio.Playback`: the
  device's reported output latency taken out). With `lookahead` each frame is published that
  long before its stamp: the known future of a recording the system plays itself.
- the microphone (live music, causal, the default): the clock time the block reached the node, less
  the block's length and PortAudio's reported input latency (`musmove.sources.audio.CaptureClock`).
"""

from pathlib import Path

import numpy as np
from rclpy.time import Time

from musmove.nodes import AUDIO_QOS, ConfigurationError, spin
from musmove.nodes.replay import FileSource
from musmove.sources.audio import CaptureClock, Playback, load_audio
from musmove_msgs.msg import AudioFrame

MAX_LEAD = 0.9  # [s] the most a frame's stamp may lead its publication: below the receivers' max_stamp_lead (1 s)
START_MARGIN = 0.2  # [s] more than the look-ahead and the output latency between the start and the first sample


class AudioSource(FileSource):
    """Publish a file (paced in real time or as fast as possible) or a microphone as frames."""

    def __init__(self) -> None:
        super().__init__('audio_source')
        self.declare_replay_parameters('Audio file to play (wav, flac, ogg, mp3, ...); empty: microphone.')
        self.device = self.parameter(
            'device', '', 'PortAudio device, name or index: the microphone, or the output of playback; empty: default.'
        )
        self.playback = self.parameter('playback', False, 'Play the file on the sound card; stamps: when heard.')
        self.lookahead = self.parameter(
            'lookahead', 0.0, 'Publish file frames this long before their stamp [s].', low=0.0, high=0.75
        )
        self.sample_rate = self.parameter(
            'sample_rate', 22050, 'Published sample rate [Hz].', minimum=1, low=1000, high=384_000
        )
        self.channels = self.parameter('channels', 1, 'Published channels; files are down-mixed.', minimum=1, high=64)
        self.hop_size = self.parameter('hop_size', 512, 'Samples per channel in each frame.', minimum=1, high=65_536)
        self.frame_id = self.frame_id or (Path(self.file).stem if self.file else 'microphone')
        self.audio_publisher = self.create_publisher(AudioFrame, 'audio', AUDIO_QOS)
        self.frame_index = 0
        frame_length = self.hop_size / self.sample_rate
        if self.lookahead + frame_length > MAX_LEAD:
            raise ConfigurationError(
                f'lookahead {self.lookahead} s + a frame ({frame_length:.3f} s) is over {MAX_LEAD} s: '
                'receivers would drop frames stamped that far ahead'
            )
        if not self.file and (self.playback or self.lookahead):
            raise ConfigurationError('playback and lookahead need a file: live microphone audio has no known future')
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
        lead_ns = round(self.lookahead * 1e9)
        delay = 0
        if self.playback:
            self.player = self._open_output()
            delay = lead_ns + round(1e9 * (self.player.stream.latency + START_MARGIN))
        times = starts * 10**9 // self.sample_rate
        self.start_replay(times, self.audio_publisher, self._publish_frame, hop_ns - lead_ns, delay)

    def _open_output(self) -> Playback:
        sounddevice = self._portaudio('playback')
        if not any(device['max_output_channels'] > 0 for device in sounddevice.query_devices()):
            raise ConfigurationError('no audio output device found for playback; set playback to false')
        if not self.realtime:
            raise ConfigurationError('playback needs realtime: true (the sound card plays in real time)')
        try:
            padded = np.pad(self.audio, ((0, -len(self.audio) % self.hop_size), (0, 0)))  # one loop: whole frames
            return Playback(padded, self.sample_rate, self._device(), self.clock_ns, self.loop)
        except (sounddevice.PortAudioError, ValueError) as error:
            raise ConfigurationError(f'cannot open output device {self.device or "(default)"}: {error}') from error

    def on_start(self) -> None:
        """Schedule the sound card: sample 0 is heard at the first frame's stamp (less `time_offset`)."""
        if player := getattr(self, 'player', None):
            player.play_from(self.start.nanoseconds)

    def on_finish(self) -> float:
        """At the end of the file, play it to its end (the frames were published `lookahead` before it)."""
        player = getattr(self, 'player', None)
        if player is None or self.finished.result() is None:  # stopped, not at the end: stop at once
            return 0.0
        end = self.start.nanoseconds + round(1e9 * len(self.audio) / self.sample_rate)
        if player.errors:
            self.get_logger().warning(f'playback: {len(player.errors)} device errors, first: {player.errors[0]}')
        latency, drift = 1e3 * player.latency, player.drift_ms
        self.get_logger().info(f'playback: output latency {latency:.1f} ms, drift up to {drift:.1f} ms')
        if player.resyncs:
            self.get_logger().warning(f'playback: re-aligned to the device {player.resyncs} times (underflows)')
        return max(end - self.clock_ns(), 0) / 1e9 + player.latency

    def _publish_frame(self, index: int, stamp: Time) -> None:
        """Publish frame `index`; the file's last, partial frame is padded with zeros as a device would."""
        samples = self.audio[index * self.hop_size : (index + 1) * self.hop_size]
        if len(samples) < self.hop_size:
            samples = np.pad(samples, ((0, self.hop_size - len(samples)), (0, 0)))
        self.audio_publisher.publish(self.frame(stamp, samples))

    # --- microphone -----------------------------------------------------------
    def _portaudio(self, use: str):
        try:
            import sounddevice
        except OSError as error:  # PortAudio itself is missing
            raise ConfigurationError(f'no {use} support ({error}); install libportaudio2') from error
        return sounddevice

    def _device(self) -> int | str | None:
        return int(self.device) if self.device.isdigit() else (self.device or None)

    def _start_microphone(self) -> None:
        sounddevice = self._portaudio('microphone')
        if not any(device['max_input_channels'] > 0 for device in sounddevice.query_devices()):
            raise ConfigurationError('no audio input device found; set the `file` parameter to play a file')
        try:
            self.stream = sounddevice.InputStream(
                samplerate=self.sample_rate,
                channels=self.channels,
                blocksize=self.hop_size,
                device=self._device(),
                dtype='float32',
                callback=self._on_microphone,
            )
        except (sounddevice.PortAudioError, ValueError) as error:
            raise ConfigurationError(f'cannot open input device {self.device or "(default)"}: {error}') from error
        self.capture = CaptureClock(self.sample_rate, self.stream.latency)
        self.stream.start()
        latency = 1e3 * self.stream.latency
        self.get_logger().info(
            f'recording from {self.stream.device} at {self.sample_rate} Hz, latency {latency:.1f} ms'
        )

    def _on_microphone(self, samples: np.ndarray, frames: int, time_info, status) -> None:
        """PortAudio callback: stamp the block with the time its first sample reached the microphone."""
        if status:
            self.get_logger().warning(f'microphone: {status}')
            if status.input_overflow:
                self.capture.restart()
        stamp = self.capture.stamp(self.clock_ns(), frames) + round(self.time_offset * 1e9)
        self.audio_publisher.publish(self.frame(Time(nanoseconds=stamp), samples))

    def destroy_node(self) -> None:
        if stream := getattr(self, 'stream', None):
            stream.close()
        if player := getattr(self, 'player', None):
            player.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return spin(AudioSource, args)
