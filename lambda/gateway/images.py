"""Image inputs: OpenAI ``image_url`` content parts -> checked image bytes.

Accepted sources:

* ``data:`` URLs (``data:image/png;base64,...``; ``image/jpeg`` (or ``image/jpg``), ``image/gif``,
  ``image/webp``), decoded strictly;
* ``http(s)`` URLs only on hosts the deployment allowlists (``imageUrlHosts``; default none, so
  remote URLs are a 400 and the gateway never makes a request a caller chose: SSRF).  An entry is
  a host (``images.example.com`` or ``host:port``: HTTPS only) or ``http://host[:port]`` to allow
  plain HTTP on that host.  Fetches time out after :data:`FETCH_TIMEOUT` seconds (connect and each read), read at most
  :data:`MAX_IMAGE_BYTES` + 1 bytes, follow no redirects and send no credentials.

The format is taken from the bytes (PNG, JPEG, GIF or WebP signatures), not from the declared
type, and the dimensions are read from the image header.  Limits are Bedrock Converse's
(botocore bedrock-runtime 2023-09-30 ``Message.content``: "You can include up to 20 images. Each
image's size, height, and width must be no more than 3.75 MB, 8000 px, and 8000 px"): a larger
image is a 413, larger dimensions or more images a 400, before any model call.
"""

from __future__ import annotations

import base64
import binascii
import email.message
import struct
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import IO

from errors import invalid_request

#: Bedrock Converse limits (see the module docstring); 3.75 MB read as 3,750,000 bytes (the stricter reading).
MAX_IMAGE_BYTES = 3_750_000
MAX_IMAGE_PIXELS = 8000
MAX_IMAGES = 20
#: MIME types accepted in data: URLs and remote responses (``image/jpg`` is a common misspelling).
MIME_TYPES = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif", "image/webp": "webp"}
#: Seconds allowed for connecting to and reading from an allowlisted image host.
FETCH_TIMEOUT = 5.0
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Image:
    """One checked image: ``format`` is ``png``, ``jpeg``, ``gif`` or ``webp``."""

    format: str
    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class ImageRef:
    """A remote image on an allowlisted host, fetched by :func:`fetch` before the model call."""

    url: str
    param: str


def sniff_format(data: bytes) -> str | None:
    """The image format from its signature, or ``None``."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): precision, height, width.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


def dimensions(fmt: str, data: bytes) -> tuple[int, int] | None:
    """(width, height) from the image header, or ``None`` when the header cannot be read."""
    if fmt == "png":
        if len(data) >= 24 and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        return None
    if fmt == "gif":
        return struct.unpack("<HH", data[6:10]) if len(data) >= 10 else None
    if fmt == "webp":
        return _webp_size(data)
    return _jpeg_size(data)


def check(data: bytes, param: str) -> Image:
    """Validate image bytes against the limits; return the :class:`Image`."""
    if len(data) > MAX_IMAGE_BYTES:
        raise invalid_request(
            f"The image in '{param}' is {len(data)} bytes; images may be at most {MAX_IMAGE_BYTES} bytes "
            f"(3.75 MB). Resize or compress it.",
            param=param,
            code="image_too_large",
            status=413,
        )
    fmt = sniff_format(data)
    if fmt is None:
        raise invalid_request(
            f"The image in '{param}' is not a PNG, JPEG, GIF or WebP image.", param=param, code="invalid_image_format"
        )
    size = dimensions(fmt, data)
    if size is None:
        raise invalid_request(
            f"The {fmt.upper()} image in '{param}' is damaged (its size cannot be read).",
            param=param,
            code="invalid_image",
        )
    width, height = size
    if not (0 < width <= MAX_IMAGE_PIXELS and 0 < height <= MAX_IMAGE_PIXELS):
        raise invalid_request(
            f"The image in '{param}' is {width}x{height} pixels; width and height may be at most "
            f"{MAX_IMAGE_PIXELS} pixels. Resize it.",
            param=param,
            code="invalid_image_size",
        )
    return Image(fmt, data, width, height)


def decode_data_url(url: str, param: str) -> Image:
    """Decode and check a ``data:image/...;base64,...`` URL."""
    header, sep, payload = url[5:].partition(",")
    media, _, encoding = header.partition(";")
    if not sep or encoding.lower() != "base64":
        raise invalid_request(
            f"'{param}' must be a base64 data URL like 'data:image/png;base64,...'.",
            param=param,
            code="invalid_image_url",
        )
    if media.lower() not in MIME_TYPES:
        raise invalid_request(
            f"'{param}' has media type {media!r}; supported are image/png, image/jpeg, image/gif and image/webp.",
            param=param,
            code="invalid_image_format",
        )
    # Strict decoding; the decoded size bounds the work (the body size limit bounds the input).
    if len(payload) > (MAX_IMAGE_BYTES + 2) // 3 * 4 + 4:
        raise invalid_request(
            f"The image in '{param}' is larger than {MAX_IMAGE_BYTES} bytes (3.75 MB). Resize or compress it.",
            param=param,
            code="image_too_large",
            status=413,
        )
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_request(
            f"The data URL in '{param}' is not valid base64.", param=param, code="invalid_image_url"
        ) from None
    return check(data, param)


def _origin(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    parsed = urllib.parse.urlsplit(f"{scheme}://{netloc}")
    try:
        port = parsed.port or DEFAULT_PORTS[scheme]
    except ValueError:
        return None
    return (scheme, (parsed.hostname or "").lower(), port) if parsed.hostname else None


def allowed_origins(hosts: tuple[str, ...]) -> frozenset[tuple[str, str, int]]:
    """``imageUrlHosts`` entries as (scheme, host, port) origins (see the module docstring)."""
    out = set()
    for entry in hosts:
        scheme, sep, netloc = entry.partition("://")
        origin = _origin(scheme.lower(), netloc) if sep else _origin("https", entry)
        if origin is not None:
            out.add(origin)
    return frozenset(out)


def remote_ref(url: str, param: str, origins: frozenset[tuple[str, str, int]]) -> ImageRef:
    """Check a remote image URL against the allowlist; the image is fetched later (:func:`fetch`)."""
    parsed = urllib.parse.urlsplit(url)
    scheme = parsed.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise invalid_request(
            f"'{param}' must be a data: URL (or an http(s) URL on an allowlisted host).",
            param=param,
            code="invalid_image_url",
        )
    origin = _origin(scheme, parsed.netloc.rpartition("@")[2])
    if parsed.username is not None or parsed.password is not None or origin is None or origin not in origins:
        raise invalid_request(
            f"'{param}' is a remote URL; this gateway accepts images as base64 data: URLs "
            f"('data:image/png;base64,...')" + (" or from its allowlisted hosts." if origins else "."),
            param=param,
            code="image_url_not_allowed",
        )
    return ImageRef(url, param)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: email.message.Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None  # a redirect becomes an HTTPError: an allowlisted host cannot send us elsewhere


_OPENER = urllib.request.build_opener(_NoRedirect(), urllib.request.ProxyHandler({}))


def fetch(ref: ImageRef, timeout: float | None = None) -> Image:
    """Download an allowlisted image (size-capped, no redirects) and check it."""
    request = urllib.request.Request(ref.url, headers={"Accept": "image/*", "User-Agent": "llm-gateway/1"})
    try:
        with _OPENER.open(request, timeout=timeout or FETCH_TIMEOUT) as resp:
            data = resp.read(MAX_IMAGE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise invalid_request(
            f"Fetching the image in '{ref.param}' failed: HTTP {exc.code}.", param=ref.param, code="image_fetch_failed"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise invalid_request(
            f"Fetching the image in '{ref.param}' failed: {reason}.", param=ref.param, code="image_fetch_failed"
        ) from None
    return check(data, ref.param)
