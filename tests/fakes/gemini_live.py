"""A small fake Gemini Live server (TLS, on 127.0.0.1) for the worker's and the runtime's tests, scripted per test.

It speaks the BidiGenerateContent wire format the real ``livekit-plugins-google`` client
uses: it reads ``setup`` and answers ``setupComplete``; each ``clientContent`` /
``client_content`` that completes a turn, and each ``toolResponse``, makes it play the
next scripted reply: ``{"say": text}`` (``outputTranscription`` then ``generationComplete``
and ``turnComplete``, as in AUDIO mode) or ``{"call": name, "args": {...}}`` (``toolCall``).
``{"go_away": True}`` sends ``goAway`` and closes the connection, ``{"drop": True}`` just drops it
(the client must reconnect with its last resumption handle; ``setups`` shows it did).
After each finished reply the server hands out a new ``sessionResumptionUpdate`` handle.
``refuse`` closes every connection after ``setup`` with 1008, as Gemini does for a bad key.

The client is pointed here the standard way (``GOOGLE_GEMINI_BASE_URL`` and
``SSL_CERT_FILE`` trusting a certificate made at start), never by patching the plugin.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

PATH_SUFFIX = "GenerativeService.BidiGenerateContent"


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
            content = message.get("clientContent") or message.get("client_content")
            if (content and (content.get("turnComplete") or content.get("turn_complete"))) or (
                "toolResponse" in message or "tool_response" in message
            ):
                await self._reply(ws)

    async def _reply(self, ws) -> None:
        if not self.replies:
            return
        for action in self.replies.pop(0):
            if "say" in action:
                await ws.send(json.dumps({"serverContent": {"outputTranscription": {"text": action["say"]}}}))
                await asyncio.sleep(0.01)
                await ws.send(json.dumps({"serverContent": {"generationComplete": True}}))
                await ws.send(json.dumps({"serverContent": {"turnComplete": True}}))
                self._handles += 1
                handle = f"resume-{self._handles}"
                self.handles_given.append(handle)
                await ws.send(json.dumps({"sessionResumptionUpdate": {"newHandle": handle, "resumable": True}}))
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
