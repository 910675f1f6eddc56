"""A Web Push service for the tests: a real HTTP server on loopback speaking the real protocol.

What a browser does is played by `Browser`: it makes a P-256 key pair and a 16-byte auth secret,
and gets an endpoint `http://127.0.0.1:<port>/push/<token>` from the service. What a push service
(FCM, Mozilla autopush) checks is checked here, and a message failing any check is refused (and
remembered in `refused`) instead of recorded:

- `Authorization: vapid t=<JWT>, k=<public key>` (RFC 8292): the JWT is ES256 signed by `k`,
  `aud` is the endpoint's origin, `exp` in the future and at most 24 h ahead, `sub` is `mailto:`
  or `https:`; `k` is the application server key the browser subscribed with.
- `Content-Encoding: aes128gcm` and a `TTL` header; the body decrypts (RFC 8291 / RFC 8188) with
  the browser's private key and auth secret, and is at most 4096 bytes.

`answers` scripts the next answers of an endpoint (e.g. `[(429, {"Retry-After": "7"}), (500, {})]`);
then it answers 201. `gone` endpoints answer 410 forever, as an unsubscribed browser's.

`PushService(tls_dir=...)` serves https with a certificate of its own for `localhost` (the client
trusts it through REQUESTS_CA_BUNDLE=`service.ca_file`), as a real push service is https.
"""

from __future__ import annotations

import base64
import json
import datetime
import ipaddress
import secrets
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """A browser's push subscription: its keys are what pushManager.subscribe() makes."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    server_key: str = ""  # the applicationServerKey it subscribed with

    @property
    def p256dh(self) -> str:
        return b64url(self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))

    @property
    def auth_b64(self) -> str:
        return b64url(self.auth)

    def subscription(self) -> dict:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth_b64}}

    @property
    def token(self) -> str:
        return self.endpoint.rsplit("/", 1)[1]


@dataclass
class Received:
    token: str
    payload: dict
    headers: dict  # lower-case names
    claims: dict


def verify_vapid(header: str, endpoint_origin: str, expected_key: str) -> dict:
    """The JWT's claims, or ValueError saying what is wrong."""
    if not header.startswith("vapid "):
        raise ValueError("Authorization is not 'vapid t=..., k=...'")
    params = dict(part.strip().split("=", 1) for part in header[len("vapid "):].split(","))
    token, key = params.get("t", ""), params.get("k", "")
    if expected_key and key != expected_key:
        raise ValueError("k is not the key the browser subscribed with")
    head_b64, claims_b64, sig_b64 = token.split(".")
    head = json.loads(b64url_decode(head_b64))
    if head.get("alg") != "ES256":
        raise ValueError(f"alg {head.get('alg')}")
    signature = b64url_decode(sig_b64)
    if len(signature) != 64:
        raise ValueError("signature is not raw r||s")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
    try:
        public.verify(encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")),
                      f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise ValueError("bad ES256 signature") from None
    claims = json.loads(b64url_decode(claims_b64))
    now = time.time()
    if claims.get("aud") != endpoint_origin:
        raise ValueError(f"aud {claims.get('aud')!r} != {endpoint_origin!r}")
    if not now < claims.get("exp", 0) <= now + 24 * 3600:
        raise ValueError("exp not in the next 24 hours")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        raise ValueError("sub is not mailto: or https:")
    return claims


def localhost_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1: (cert file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "push-service.crt", directory / "push-service.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class PushService:
    def __init__(self, tls_dir: Path | None = None):
        self.browsers: dict[str, Browser] = {}
        self.received: list[Received] = []
        self.refused: list[str] = []
        self.answers: dict[str, list[tuple[int, dict]]] = {}
        self.gone: set[str] = set()
        self.requests: list[tuple[str, int]] = []  # (token, status answered), in order
        self._lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                status, headers = service.handle(self)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.ca_file = None
        if tls_dir is not None:
            self.ca_file, key_file = localhost_certificate(tls_dir)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.ca_file, key_file)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.origin = f"https://localhost:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> PushService:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def new_browser(self, server_key: str = "") -> Browser:
        browser = Browser(endpoint=f"{self.origin}/push/{secrets.token_urlsafe(12)}", server_key=server_key)
        self.browsers[browser.token] = browser
        return browser

    def payloads(self, browser: Browser | None = None) -> list[dict]:
        return [r.payload for r in self.received if browser is None or r.token == browser.token]

    def handle(self, request: BaseHTTPRequestHandler) -> tuple[int, dict]:
        token = request.path.rsplit("/", 1)[-1]
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        with self._lock:
            status, headers = self._answer(token, request, body)
            self.requests.append((token, status))
        return status, headers

    def _answer(self, token: str, request, body: bytes) -> tuple[int, dict]:
        browser = self.browsers.get(token)
        if browser is None or token in self.gone:
            return 410 if browser else 404, {}
        scripted = self.answers.get(token)
        if scripted:
            return scripted.pop(0)
        try:
            claims = verify_vapid(request.headers.get("Authorization", ""), self.origin, browser.server_key)
            if request.headers.get("Content-Encoding") != "aes128gcm":
                raise ValueError("Content-Encoding is not aes128gcm")
            if request.headers.get("TTL") is None:
                raise ValueError("no TTL header")
            if len(body) > 4096:
                raise ValueError("body over 4096 bytes")
            plain = http_ece.decrypt(body, private_key=browser.private_key, auth_secret=browser.auth,
                                     version="aes128gcm")
            payload = json.loads(plain)
        except Exception as exc:
            self.refused.append(f"{type(exc).__name__}: {exc}")
            return 400 if not isinstance(exc, ValueError) or "Authorization" not in str(exc) else 401, {}
        self.received.append(Received(token, payload, {k.lower(): v for k, v in request.headers.items()}, claims))
        return 201, {"Location": f"{self.origin}/message/{secrets.token_urlsafe(8)}"}
