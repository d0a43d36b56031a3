"""A phone call in audio, as a real one runs: the caller's voice in, the agent's voice out.

Every other conversation test speaks text to the model. Here the runtime's own conversation
runs in the worker's job function on LiveKit's ``AgentSession``, roomless, with the two ends
of a phone line in place of the room's: the caller's microphone (an ``AudioInput`` giving
20 ms frames of 24 kHz audio at real-time pace, as RoomIO does for a SIP caller) and the
caller's ear (an ``AudioOutput`` that plays at real-time pace and can be cut off, wrapped in
LiveKit's ``TranscriptSynchronizer`` as RoomIO wraps the room's output). The fake Gemini Live
server hears the audio with its own voice-activity detector, answers in 24 kHz audio with
transcriptions, and cuts its reply off when the caller talks over it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
from livekit import rtc
from livekit.agents.testing import fake_job_context
from livekit.agents.voice.io import AudioInput, AudioOutput, AudioOutputCapabilities, PlaybackFinishedEvent
from livekit.agents.voice.transcription import TranscriptSynchronizer

from tests.fakes.gemini_live import REPLY_RATE, spoken_pcm
from tests.runtime.phone_agents import GREETING, phone_agent
from tests.support.waiting import until
from tests.worker.conftest import load_call, open_webhook_session
from voice_platform.db import session_scope
from voice_platform.runtime.agent import build_conversation
from voice_platform.runtime.recorder import INTERRUPTED
from voice_platform.services import calls
from worker import entrypoint as entry

CALLER_RATE = 24000  # what RoomIO hands the session from the caller's track
FRAME_SECONDS = 0.02
MODEL_MIME = "audio/pcm;rate=16000"  # what Gemini Live must be sent
LONG_REPLY = ("Tuesday we have nine, ten and eleven in the morning, and two, three or four in the afternoon, "
              "and on Wednesday the whole day is still open, so which of those suits you best?")
LONG_REPLY_SECONDS = 5.0
BARGE_IN_AFTER_SECONDS = 1.0  # of the long reply played before the caller talks over it


def line_noise(seconds: float) -> bytes:
    """A quiet line (a little hiss, far below speech) in the caller's format."""
    rng = np.random.default_rng(7)
    return (rng.normal(0, 20, round(seconds * CALLER_RATE))).astype("<i2").tobytes()


class CallerMicrophone(AudioInput):
    """The caller's side as RoomIO delivers it: 20 ms mono frames at 24 kHz, at real-time pace."""

    def __init__(self) -> None:
        super().__init__(label="caller")
        self._frames: deque[bytes] = deque()
        self._ready = asyncio.Event()
        self._due = 0.0
        self.pushed_samples = 0

    def say(self, seconds: float, then_quiet: float = 0.5) -> None:
        """Speak for ``seconds`` (a voice-like signal), then leave the line quiet a moment."""
        pcm = spoken_pcm(seconds, CALLER_RATE) + line_noise(then_quiet)
        step = round(FRAME_SECONDS * CALLER_RATE) * 2
        self._frames.extend(pcm[i:i + step] for i in range(0, len(pcm), step))
        self._ready.set()

    @property
    def done(self) -> bool:
        return not self._frames

    async def __anext__(self) -> rtc.AudioFrame:
        while not self._frames:
            self._ready.clear()
            await self._ready.wait()
        loop = asyncio.get_running_loop()
        # the line's clock: a frame leaves when its 20 ms are due, never faster than real time
        self._due = max(self._due, loop.time())
        await asyncio.sleep(self._due - loop.time())
        self._due += FRAME_SECONDS
        data = self._frames.popleft()
        self.pushed_samples += len(data) // 2
        return rtc.AudioFrame(data, CALLER_RATE, 1, len(data) // 2)


@dataclass
class Segment:
    """One stretch of the agent's speech on the line (LiveKit's playback segment)."""

    frames: list[rtc.AudioFrame]
    played: float = 0.0
    started: bool = False
    flushed: bool = False
    finished: PlaybackFinishedEvent | None = None

    @property
    def samples(self) -> int:
        return sum(f.samples_per_channel for f in self.frames)


class CallerEar(AudioOutput):
    """The caller's ear: what the agent sends is played at real-time pace, as on the SIP leg, so a
    reply lasts as long as it sounds and the agent can be cut off part-way (``clear_buffer``)."""

    def __init__(self) -> None:
        super().__init__(label="caller-ear", capabilities=AudioOutputCapabilities(pause=True), sample_rate=None)
        self.segments: list[Segment] = []
        self.cleared = 0
        self._queue: deque[tuple[Segment, rtc.AudioFrame | None]] = deque()
        self._capturing: Segment | None = None
        self._wake = asyncio.Event()
        self._unpaused = asyncio.Event()
        self._unpaused.set()
        self._player: asyncio.Task | None = None

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if self._capturing is None:
            self._capturing = Segment(frames=[])
            self.segments.append(self._capturing)
        self._capturing.frames.append(frame)
        self._queue.append((self._capturing, frame))
        self._play_soon()

    def flush(self) -> None:
        super().flush()
        if self._capturing is not None:
            self._capturing.flushed = True
            self._queue.append((self._capturing, None))  # the end of the segment, once played
            self._capturing = None
            self._play_soon()

    def clear_buffer(self) -> None:
        self.cleared += 1
        self._queue.clear()
        self._capturing = None
        for segment in self.segments:
            if segment.finished is None:
                self._finish(segment, interrupted=True)

    def pause(self) -> None:
        super().pause()
        self._unpaused.clear()

    def resume(self) -> None:
        super().resume()
        self._unpaused.set()

    def finished(self) -> list[Segment]:
        return [s for s in self.segments if s.finished is not None]

    def _finish(self, segment: Segment, *, interrupted: bool) -> None:
        segment.finished = PlaybackFinishedEvent(playback_position=segment.played, interrupted=interrupted)
        self.on_playback_finished(playback_position=segment.played, interrupted=interrupted)

    def _play_soon(self) -> None:
        self._wake.set()
        if self._player is None or self._player.done():
            self._player = asyncio.get_running_loop().create_task(self._play())

    async def _play(self) -> None:
        while True:
            while not self._queue:
                self._wake.clear()
                await self._wake.wait()
            await self._unpaused.wait()
            segment, frame = self._queue.popleft()
            if segment.finished is not None:
                continue
            if frame is None:
                self._finish(segment, interrupted=False)
                continue
            if not segment.started:
                segment.started = True
                self.on_playback_started(created_at=time.time())
            await asyncio.sleep(frame.duration)  # the line's clock: the frame takes its length to play
            if segment.finished is None:  # not cut off meanwhile
                segment.played += frame.duration


class OverThePhone:
    """The runtime's conversation, its session given the phone line's two ends instead of a room's."""

    def __init__(self, conversation, microphone: CallerMicrophone, ear: CallerEar) -> None:
        self._conversation, self.microphone, self.ear = conversation, microphone, ear

    def __getattr__(self, name: str):
        return getattr(self._conversation, name)

    def new_session(self):
        session = self._conversation.new_session()
        session.input.audio = self.microphone
        synchronizer = TranscriptSynchronizer(next_in_chain_audio=self.ear, next_in_chain_text=None)
        session.output.audio = synchronizer.audio_output
        session.output.transcription = synchronizer.text_output
        self.session = session
        return session


async def test_a_call_in_audio_is_heard_answered_cut_off_and_recorded(client, registry, gemini):
    agent = phone_agent(client, "audio")
    session_id = open_webhook_session(agent["phone_number"])
    gemini.replies = [
        [{"audio": 0.6, "transcript": GREETING}],
        [{"heard": "Do you have time on Tuesday?", "audio": LONG_REPLY_SECONDS, "transcript": LONG_REPLY}],
        # the caller talks over the long reply; this answers what they said
        [{"heard": "Ten on Tuesday, please.", "audio": 0.8, "transcript": "Booked: Tuesday at ten."}],
        [{"heard": "Great, thanks. Bye!", "call": "end_call"}],
        [{"audio": 0.5, "transcript": "Goodbye, take care!"}],
    ]
    microphone, ear = CallerMicrophone(), CallerEar()
    phone: list[OverThePhone] = []

    def build(sid):
        phone.append(OverThePhone(build_conversation(sid), microphone, ear))
        return phone[0]

    metadata = json.dumps({"session_id": str(session_id), "agent_id": agent["id"]})
    with fake_job_context(room=None, job_metadata=metadata) as ctx:
        job = asyncio.create_task(entry.answer(ctx, build=build))
        await until(lambda: len(ear.finished()) == 1)  # the greeting, played out
        greeted_at = time.monotonic() - ear.segments[0].played
        microphone.say(0.8)
        await until(lambda: len(ear.segments) == 2 and ear.segments[1].played >= BARGE_IN_AFTER_SECONDS)
        # LiveKit feeds the model silence for the first seconds of the agent's speech (its echo
        # canceller warming up): talk over the agent only once that is over, as a caller would be heard
        warmup = phone[0].session.options.aec_warmup_duration or 0.0
        await until(lambda: time.monotonic() - greeted_at > warmup + 0.2)
        microphone.say(0.8)
        await until(lambda: len(ear.finished()) == 3)  # cut off, then the answer to the barge-in
        # mid-call, the line quiet and open: what the caller said so far vs what reached the model
        assert microphone.done
        pushed, sent_to_model = microphone.pushed_samples, gemini.caller_samples(MODEL_MIME)
        microphone.say(0.7)
        await asyncio.wait_for(job, 20)

    # the caller's audio reached Gemini as 16 kHz PCM (resampled from the line's 24 kHz), all of it
    # but the tail the plugin still holds: under one 50 ms chunk plus the resampler's 30 ms delay
    assert {mime for mime, _ in gemini.caller_audio} == {MODEL_MIME}
    assert 0 <= pushed * 16000 // CALLER_RATE - sent_to_model < 0.08 * 16000

    # the agent's voice reached the line at 24 kHz, every sample Gemini sent, the cut-off reply part-played
    assert {(f.sample_rate, f.num_channels) for s in ear.segments for f in s.frames} == {(REPLY_RATE, 1)}
    greeting, cut_off, answer, goodbye = ear.segments
    sent = [len(pcm) // 2 for pcm in gemini.spoken]
    assert [greeting.samples, answer.samples, goodbye.samples] == [sent[0], sent[2], sent[3]]
    assert not any(s.finished.interrupted for s in (greeting, answer, goodbye))
    assert gemini.interruptions == 1 and ear.cleared >= 1
    assert cut_off.finished.interrupted
    assert BARGE_IN_AFTER_SECONDS <= cut_off.played < LONG_REPLY_SECONDS - 1.0

    # both sides of the transcript are recorded from the transcriptions, the cut-off turn marked
    call = load_call(session_id)
    assert (call.status, call.end_reason) == ("completed", "agent_ended")
    with session_scope() as db:
        turns = [(t.role, t.text) for t in calls.turns(db, session_id)]
    assert [role for role, _ in turns] == ["assistant", "user", "assistant", "user", "assistant", "user",
                                           "assistant"], turns
    said = [text for _, text in turns]
    assert said[:2] == [GREETING, "Do you have time on Tuesday?"]
    heard, _, mark = said[2].rpartition(" ")
    assert mark == INTERRUPTED and heard and LONG_REPLY.startswith(heard) and len(heard) < len(LONG_REPLY)
    assert said[3:] == ["Ten on Tuesday, please.", "Booked: Tuesday at ten.", "Great, thanks. Bye!",
                        "Goodbye, take care!"]
