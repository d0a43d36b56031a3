"""A small fake Gemini Live server (TLS, on 127.0.0.1) for the worker's and the runtime's tests, scripted per test.

It speaks the BidiGenerateContent wire format the real ``livekit-plugins-google`` client
uses: it reads ``setup`` and answers ``setupComplete``; each ``clientContent`` /
``client_content`` that completes a turn, each ``toolResponse``, and the end of each
utterance in the caller's audio makes it play the next scripted reply:
``{"say": text}`` (``outputTranscription`` then ``generationComplete`` and ``turnComplete``,
as in AUDIO mode), ``{"audio": seconds_or_pcm, "transcript": text}`` (the reply spoken:
``modelTurn`` chunks of 24 kHz PCM16 with the ``outputTranscription`` interleaved, then
``generationComplete`` and ``turnComplete``) or ``{"call": name, "args": {...}}`` (``toolCall``).
Any action may carry ``"heard": text``: the ``inputTranscription`` of the caller's audio,
sent first, as Gemini transcribes what it answers.

The caller's audio (``realtimeInput`` chunks, kept in ``caller_audio`` with their mime
type) goes through a small voice-activity detector, like Gemini's own: a chunk louder
than ``SPEECH_RMS`` is speech, and ``END_OF_SPEECH_SECONDS`` of quiet after speech ends
the caller's turn. Speech that starts while a spoken reply is still playing on the
caller's side (by the fake's clock: sent at t, playing until t + its length) is a
barge-in: the fake sends ``serverContent.interrupted`` (counted in ``interruptions``),
as Gemini does when its turn is cut off after ``turnComplete``.
``{"go_away": True}`` sends ``goAway`` and closes the connection, ``{"drop": True}`` just drops it
(the client must reconnect with its last resumption handle; ``setups`` shows it did).
After each finished reply the server hands out a new ``sessionResumptionUpdate`` handle.
``refuse`` closes every connection after ``setup`` with 1008, as Gemini does for a bad key.

The client is pointed here the standard way (``GOOGLE_GEMINI_BASE_URL`` and
``SSL_CERT_FILE`` trusting a certificate made at start), never by patching the plugin.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import json
import math
import ssl
from pathlib import Path

import numpy as np

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

PATH_SUFFIX = "GenerativeService.BidiGenerateContent"
REPLY_RATE = 24000  # Gemini Live speaks 24 kHz mono PCM16
REPLY_MIME = f"audio/pcm;rate={REPLY_RATE}"
REPLY_CHUNK_SECONDS = 0.1  # audio arrives in chunks like this, faster than real time
SPEECH_RMS = 500.0  # louder than this is the caller speaking (line noise is far below)
END_OF_SPEECH_SECONDS = 0.3  # this much quiet after speech ends the caller's turn


def spoken_pcm(seconds: float, rate: int = REPLY_RATE) -> bytes:
    """A voice-like PCM16 signal (a 180 Hz fundamental and two harmonics), loud enough to be speech."""
    t = np.arange(round(seconds * rate)) / rate
    wave = np.sin(2 * np.pi * 180 * t) + 0.5 * np.sin(2 * np.pi * 360 * t) + 0.25 * np.sin(2 * np.pi * 540 * t)
    return (wave / 1.75 * 9000).astype("<i2").tobytes()


def _rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    return math.sqrt(float(np.mean(samples**2))) if samples.size else 0.0


def _rate(mime_type: str) -> int:
    _, _, rate = mime_type.partition("rate=")
    return int(rate) if rate.isdigit() else 16000


def make_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "gemini-cert.pem", directory / "gemini-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class FakeGeminiLive:
    def __init__(self, directory: Path, replies: list[list[dict]] | None = None, *, refuse: bool = False) -> None:
        self.cert_path, self._key_path = make_certificate(directory)
        self.replies = list(replies or [])
        self.refuse = refuse
        self.setups: list[dict] = []
        self.received: list[dict] = []
        self.paths: list[str] = []
        self._calls = 0
        self._handles = 0
        self.handles_given: list[str] = []
        self.caller_audio: list[tuple[str, bytes]] = []  # (mime type, PCM) of each realtimeInput audio chunk
        self.spoken: list[bytes] = []  # the PCM of each spoken reply, in order
        self.interruptions = 0
        self._caller_speaking = False
        self._quiet_samples = 0
        self._playing_until = 0.0  # loop time until which the last spoken reply plays on the caller's side

    async def __aenter__(self) -> "FakeGeminiLive":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_path, self._key_path)
        self._server = await serve(self._handle, "127.0.0.1", 0, ssl=ctx)
        port = self._server.sockets[0].getsockname()[1]
        self.base_url = f"https://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_exc) -> None:
        self._server.close()
        await self._server.wait_closed()

    def environment(self) -> dict[str, str]:
        return {"GOOGLE_GEMINI_BASE_URL": self.base_url, "SSL_CERT_FILE": str(self.cert_path)}

    async def _handle(self, ws) -> None:
        self.paths.append(ws.request.path)
        if PATH_SUFFIX not in ws.request.path:
            await ws.close(1008, "unknown method")
            return
        try:
            await self._converse(ws)
        except ConnectionClosed:  # a dropped socket (scripted, or the client going away)
            pass

    async def _converse(self, ws) -> None:
        async for raw in ws:
            message = json.loads(raw)
            self.received.append(message)
            if "setup" in message:
                self.setups.append(message["setup"])
                if self.refuse:
                    await ws.close(1008, "API key not valid. Please pass a valid API key.")
                    return
                await ws.send(json.dumps({"setupComplete": {}}))
                continue
            realtime = message.get("realtimeInput") or message.get("realtime_input")
            if realtime:
                await self._hear(ws, realtime)
                continue
            content = message.get("clientContent") or message.get("client_content")
            if (content and (content.get("turnComplete") or content.get("turn_complete"))) or (
                "toolResponse" in message or "tool_response" in message
            ):
                await self._reply(ws)

    async def _hear(self, ws, realtime: dict) -> None:
        """One chunk of the caller's audio: kept, and run through the voice-activity detector."""
        blob = realtime.get("audio")
        if not blob:
            return
        mime_type = blob.get("mimeType") or blob.get("mime_type") or ""
        pcm = base64.urlsafe_b64decode((blob.get("data") or "").replace("+", "-").replace("/", "_"))  # either alphabet
        self.caller_audio.append((mime_type, pcm))
        if _rms(pcm) > SPEECH_RMS:
            self._quiet_samples = 0
            if not self._caller_speaking:
                self._caller_speaking = True
                if asyncio.get_running_loop().time() < self._playing_until:  # talking over the agent
                    self._playing_until = 0.0
                    self.interruptions += 1
                    await ws.send(json.dumps({"serverContent": {"interrupted": True}}))
        elif self._caller_speaking:
            self._quiet_samples += len(pcm) // 2
            if self._quiet_samples >= END_OF_SPEECH_SECONDS * _rate(mime_type):
                self._caller_speaking = False
                await self._reply(ws)

    def caller_samples(self, mime_type: str) -> int:
        """How many samples of the caller's audio arrived with this mime type."""
        return sum(len(pcm) // 2 for mime, pcm in self.caller_audio if mime == mime_type)

    async def _complete_turn(self, ws) -> None:
        await ws.send(json.dumps({"serverContent": {"generationComplete": True}}))
        await ws.send(json.dumps({"serverContent": {"turnComplete": True}}))
        self._handles += 1
        handle = f"resume-{self._handles}"
        self.handles_given.append(handle)
        await ws.send(json.dumps({"sessionResumptionUpdate": {"newHandle": handle, "resumable": True}}))

    async def _speak(self, ws, audio: float | bytes, transcript: str) -> None:
        """A spoken reply: PCM chunks with the transcription interleaved, as Gemini streams them."""
        pcm = audio if isinstance(audio, bytes) else spoken_pcm(audio)
        step = round(REPLY_CHUNK_SECONDS * REPLY_RATE) * 2
        chunks = [pcm[i:i + step] for i in range(0, len(pcm), step)]
        words, said = transcript.split(), 0
        for index, chunk in enumerate(chunks):
            data = base64.b64encode(chunk).decode()
            part = {"inlineData": {"mimeType": REPLY_MIME, "data": data}}
            await ws.send(json.dumps({"serverContent": {"modelTurn": {"parts": [part]}}}))
            upto = (index + 1) * len(words) // len(chunks)
            if upto > said:  # Gemini's pieces carry their leading space
                text = (" " if said else "") + " ".join(words[said:upto])
                await ws.send(json.dumps({"serverContent": {"outputTranscription": {"text": text}}}))
                said = upto
        self.spoken.append(pcm)
        self._playing_until = asyncio.get_running_loop().time() + len(pcm) / 2 / REPLY_RATE
        await self._complete_turn(ws)

    async def _reply(self, ws) -> None:
        if not self.replies:
            return
        for action in self.replies.pop(0):
            if "heard" in action:
                await ws.send(json.dumps({"serverContent": {"inputTranscription": {"text": action["heard"]}}}))
            if "say" in action:
                await ws.send(json.dumps({"serverContent": {"outputTranscription": {"text": action["say"]}}}))
                await asyncio.sleep(0.01)
                await self._complete_turn(ws)
            elif "audio" in action:
                await self._speak(ws, action["audio"], action.get("transcript", ""))
            elif "go_away" in action:
                await ws.send(json.dumps({"goAway": {"timeLeft": "0s"}}))
                await ws.close(1000, "going away")
                return
            elif "drop" in action:
                ws.transport.abort()
                return
            elif "call" in action:
                self._calls += 1
                call = {"id": f"fc-{self._calls}", "name": action["call"], "args": action.get("args", {})}
                await ws.send(json.dumps({"toolCall": {"functionCalls": [call]}}))

    def resumption_handles(self) -> list[str | None]:
        """The handle each ``setup`` carried (None for a fresh session)."""
        return [(s.get("sessionResumption") or {}).get("handle") for s in self.setups]

    def declared_functions(self, index: int = 0) -> list[str]:
        tools = self.setups[index].get("tools") or []
        return sorted(f["name"] for t in tools for f in t.get("functionDeclarations", []))


class ThreadedFakeGemini:
    """The fake on its own event loop in a thread, for a server in another process (the e2e app)."""

    def __init__(self, directory: Path) -> None:
        import threading

        self._directory = directory
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="fake-gemini")
        self.server: FakeGeminiLive | None = None

    def _run(self) -> None:
        async def main() -> None:
            self._stop = asyncio.Event()
            async with FakeGeminiLive(self._directory) as server:
                self.server = server
                self._loop = asyncio.get_running_loop()
                self._ready.set()
                await self._stop.wait()

        asyncio.run(main())

    def __enter__(self) -> FakeGeminiLive:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake Gemini server did not start")
        return self.server

    def __exit__(self, *_exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
