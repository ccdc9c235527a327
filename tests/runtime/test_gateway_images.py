"""Image inputs end to end: OpenAI ``image_url`` parts through the official SDK, the real gateway and the
Bedrock stand-in, which receives Converse ``image`` blocks (botocore ImageBlock {format: png|jpeg|gif|webp,
source: {bytes}}, base64 on the rest-json wire) and applies Bedrock's limits (botocore ``Message.content``:
"up to 20 images. Each image's size, height, and width must be no more than 3.75 MB, 8000 px, and 8000 px").
Remote URLs are refused unless the host is allowlisted (``imageUrlHosts``), then fetched from a local HTTP
server on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest

import images
import openai_compat
from bedrock_standin import Behaviour
from config import parse_config
from gateway_harness import SINK, TEST_CONFIG, make_gateway
from test_gateway_http import assert_openai_error, raw


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixels = b"".join(b"\x00" + b"\x7f" * width * 3 for _ in range(height)) if width * height <= 4096 else b"\x00"
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )


def gif(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00" + b"\x2c" + b"\x00" * 9 + b"\x3b"


def jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


def webp(width: int, height: int) -> bytes:
    vp8x = (
        b"VP8X"
        + struct.pack("<I", 10)
        + b"\x00\x00\x00\x00"
        + (width - 1).to_bytes(3, "little")
        + (height - 1).to_bytes(3, "little")
    )
    return b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def ask(*urls: str, text: str = "What is in the picture?") -> list[dict]:
    parts = [{"type": "text", "text": text}] + [{"type": "image_url", "image_url": {"url": u}} for u in urls]
    return [{"role": "user", "content": parts}]


# --------------------------------------------------------------------------- data URLs


@pytest.mark.parametrize(
    "make, fmt, mime",
    [(png, "png", "image/png"), (jpeg, "jpeg", "image/jpeg"), (gif, "gif", "image/gif"), (webp, "webp", "image/webp")],
)
def test_data_urls_become_converse_image_blocks(client, standin, make, fmt, mime):
    data = make(64, 48)
    resp = client.chat.completions.create(model="chat-fast", messages=ask(data_url(data, mime)))
    assert resp.choices[0].message.content == "Hello, world!"
    (message,) = standin.requests[-1].body["messages"]
    assert message["content"] == [
        {"text": "What is in the picture?"},
        {"image": {"format": fmt, "source": {"bytes": base64.b64encode(data).decode()}}},
    ]


def test_the_format_comes_from_the_bytes_not_the_declared_type(client, standin):
    client.chat.completions.create(model="chat-fast", messages=ask(data_url(png(8, 8), "image/jpeg")))
    assert standin.requests[-1].body["messages"][0]["content"][1]["image"]["format"] == "png"


@pytest.mark.parametrize(
    "url, code",
    [
        (data_url(b"not an image at all"), "invalid_image_format"),
        (data_url(png(8, 8), "image/bmp"), "invalid_image_format"),
        ("data:image/png;base64,@@@@", "invalid_image_url"),
        ("data:image/png,rawbytes", "invalid_image_url"),
        (data_url(png(8, 8)[:20]), "invalid_image"),  # truncated header
        (data_url(png(8001, 2)), "invalid_image_size"),  # Bedrock: at most 8000 px
        (data_url(gif(10, 9000), "image/gif"), "invalid_image_size"),
        ("https://example.com/cat.png", "image_url_not_allowed"),  # no allowlist: never fetched (SSRF)
        ("ftp://example.com/cat.png", "invalid_image_url"),
    ],
)
def test_bad_images_are_400s_before_any_call(gateway, standin, url, code):
    body = json.dumps({"model": "chat-fast", "messages": ask(url)}).encode()
    status, _, data = raw(gateway, "POST", "/v1/chat/completions", body)
    assert status == 400
    assert_openai_error(data, etype="invalid_request_error", code=code, param="messages[0].content[1].image_url.url")
    assert standin.requests == []


def test_too_many_images(gateway, standin):
    small = data_url(gif(1, 1), "image/gif")
    body = json.dumps({"model": "chat-fast", "messages": ask(*[small] * 21)}).encode()
    status, _, data = raw(gateway, "POST", "/v1/chat/completions", body)
    assert status == 400 and data["error"]["code"] == "too_many_images" and standin.requests == []


@pytest.mark.parametrize(
    "message, param",
    [
        (
            {"role": "system", "content": [{"type": "image_url", "image_url": {"url": "data:image/gif;base64,R0lG"}}]},
            "messages[0].content[0].type",
        ),
        (
            {
                "role": "assistant",
                "content": [{"type": "image_url", "image_url": {"url": "data:image/gif;base64,R0lG"}}],
            },
            "messages[1].content[0].type",
        ),
    ],
)
def test_images_only_in_user_messages(gateway, standin, message, param):
    messages = [message, *ask()] if message["role"] == "system" else [*ask(), message]
    status, _, data = raw(
        gateway, "POST", "/v1/chat/completions", json.dumps({"model": "chat-fast", "messages": messages}).encode()
    )
    assert status == 400 and data["error"]["param"] == param


def test_image_over_375_mb_is_a_413(standin, monkeypatch):
    cfg = json.loads(json.dumps(TEST_CONFIG))
    cfg["limits"]["maxRequestBytes"] = 8_000_000
    srv = make_gateway(standin, cfg, monkeypatch, stream=SINK)
    try:
        big = png(8, 8) + b"\x00" * images.MAX_IMAGE_BYTES  # trailing bytes after IEND: size is what counts
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{srv.server_address[1]}/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model="chat-fast", messages=ask(data_url(big)))
        assert info.value.status_code == 413 and info.value.body["code"] == "image_too_large"
        assert standin.requests == []
    finally:
        srv.shutdown()
        srv.server_close()


def test_bedrock_image_rejection_is_a_400_with_its_message(client, standin):
    message = "The model returned the following errors: Could not process image"
    standin.script(Behaviour(error="ValidationException", error_message=message))
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="chat-fast", messages=ask(data_url(png(4, 4))))
    assert message in info.value.message


def test_standin_checks_images_like_bedrock():
    from bedrock_standin import Rejected, validate_converse

    def body(data: bytes, fmt: str = "png", role: str = "user") -> dict:
        block = {"image": {"format": fmt, "source": {"bytes": base64.b64encode(data).decode()}}}
        if role == "user":
            return {"messages": [{"role": "user", "content": [block]}]}
        return {"messages": [{"role": "user", "content": [{"text": "q"}]}, {"role": "assistant", "content": [block]}]}

    validate_converse(body(png(8000, 8000)))
    for request, message in [
        (body(png(8, 8), "jpeg"), "appears to be a image/png"),
        (body(png(8001, 1)), "dimensions"),
        (body(png(1, 1), role="assistant"), "only include images"),
        (body(b"\x89PNG\r\n\x1a\n" + b"\x00" * 3_750_001), "3.75 MB"),
    ]:
        with pytest.raises(Rejected, match=message):
            validate_converse(request)


def test_images_reach_sagemaker_as_data_urls(client, sagemaker):
    data = png(4, 4)
    client.chat.completions.create(model="sm-vllm", messages=ask(data_url(data, "image/jpeg")))
    (message,) = sagemaker.requests[-1].body["messages"]
    assert message == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in the picture?"},
            {"type": "image_url", "image_url": {"url": data_url(data, "image/png")}},
        ],
    }


# --------------------------------------------------------------------------- allowlisted remote images


class _ImageHost(BaseHTTPRequestHandler):
    """Serves /cat.png, /big.png, /redirect (to another host), /slow and 404 for anything else."""

    protocol_version = "HTTP/1.1"
    hits: list[str] = []

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/slow":
            import time

            time.sleep(1.0)
        body = {
            "/cat.png": png(32, 32),
            "/slow": png(2, 2),
            "/big.png": png(2, 2) + b"\x00" * (images.MAX_IMAGE_BYTES + 10),
        }.get(self.path)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass


@pytest.fixture(scope="module")
def image_host():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ImageHost)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def allowlisted_gateway(standin_server, image_host):
    """A gateway whose imageUrlHosts allows plain HTTP to the local image host only."""
    cfg = json.loads(json.dumps(TEST_CONFIG))
    cfg["imageUrlHosts"] = [image_host, "images.example.com"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(images, "FETCH_TIMEOUT", 0.5)
        srv = make_gateway(standin_server, cfg, mp, stream=SINK)
        yield openai.OpenAI(base_url=f"http://127.0.0.1:{srv.server_address[1]}/v1", api_key="x", max_retries=0)
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def allowlisted(allowlisted_gateway, standin):
    _ImageHost.hits.clear()
    return allowlisted_gateway


def test_allowlisted_host_is_fetched(allowlisted, standin, image_host):
    allowlisted.chat.completions.create(model="chat-fast", messages=ask(f"{image_host}/cat.png"))
    block = standin.requests[-1].body["messages"][0]["content"][1]["image"]
    assert block["format"] == "png" and base64.b64decode(block["source"]["bytes"]) == png(32, 32)
    assert _ImageHost.hits == ["/cat.png"]


@pytest.mark.parametrize(
    "path, status, code",
    [
        ("/redirect", 400, "image_fetch_failed"),  # redirects are not followed
        ("/missing.png", 400, "image_fetch_failed"),
        ("/big.png", 413, "image_too_large"),  # read stops at the cap
        ("/slow", 400, "image_fetch_failed"),  # timed out
    ],
)
def test_allowlisted_fetch_failures(allowlisted, standin, image_host, path, status, code):
    with pytest.raises(openai.APIStatusError) as info:
        allowlisted.chat.completions.create(model="chat-fast", messages=ask(f"{image_host}{path}"))
    assert (info.value.status_code, info.value.body["code"]) == (status, code)
    assert standin.requests == [] and _ImageHost.hits == [path]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/cat.png",  # another port of an allowlisted host
        "http://images.example.com/cat.png",  # a bare entry allows HTTPS only
        "https://user:pw@images.example.com/cat.png",
    ],
)
def test_urls_outside_the_allowlist_are_not_fetched(allowlisted, standin, url):
    with pytest.raises(openai.BadRequestError) as info:
        allowlisted.chat.completions.create(model="chat-fast", messages=ask(url))
    assert info.value.body["code"] == "image_url_not_allowed" and _ImageHost.hits == []


def test_image_url_hosts_config_is_checked():
    from config import ConfigError

    with pytest.raises(ConfigError, match="imageUrlHosts"):
        parse_config({**TEST_CONFIG, "imageUrlHosts": ["https://host/path"]})
    cfg = parse_config({**TEST_CONFIG, "imageUrlHosts": ["img.example.com", "http://10.0.0.5:8080"]})
    assert images.allowed_origins(cfg.image_url_hosts) == {
        ("https", "img.example.com", 443),
        ("http", "10.0.0.5", 8080),
    }


def test_image_headers_are_read_for_every_format():
    for make, fmt in [(png, "png"), (jpeg, "jpeg"), (gif, "gif"), (webp, "webp")]:
        image = images.check(make(1234, 567), "p")
        assert (image.format, image.width, image.height) == (fmt, 1234, 567)
    parsed = openai_compat.parse_chat_request(
        {"model": "chat-fast", "messages": ask(data_url(png(3, 2)))}, parse_config(TEST_CONFIG)
    )
    assert parsed.messages[0].images[0].width == 3
