"""The HTTP response a port-forward carries, read from the bytes the websocket delivered
(diagnostics/sources/portforward.py `_response`): the same status and text as http.client reads,
whatever the framing, without its copies."""

from __future__ import annotations

import http.client
import io

import pytest

from diagnostics.sources.portforward import _response

BODY = '{"proxy": "sleep-1.sample", "note": "é ü ✓"}'.encode()


def _chunked(body: bytes, sizes: list[int]) -> bytes:
    out, at = b"", 0
    for size in sizes:
        out += f"{size:x}\r\n".encode() + body[at:at + size] + b"\r\n"
        at += size
    return out + f"{len(body) - at:x}\r\n".encode() + body[at:] + b"\r\n0\r\n\r\n" \
        if at < len(body) else out + b"0\r\n\r\n"


def _as_http_client_reads(raw: bytes) -> tuple[int, str]:
    class Sock:
        def makefile(self, *_a, **_k):
            return io.BytesIO(raw)

    resp = http.client.HTTPResponse(Sock())  # type: ignore[arg-type]
    resp.begin()
    return resp.status, resp.read().decode("utf-8", errors="replace")


RESPONSES = {
    "content-length": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY,
    "to the end": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + BODY,
    "one chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 + _chunked(BODY, []),
    # a character (é is two bytes) split between two chunks, a chunk extension, a trailer
    "chunks": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              + _chunked(BODY, [len(b'{"proxy": "sleep-1.sample", "note": "') + 1, 3, 1])
              .replace(b"3\r\n", b"3;ext=1\r\n", 1).replace(b"0\r\n\r\n", b"0\r\nX-T: 1\r\n\r\n"),
    "not found": b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\nnot found\n",
    "not UTF-8": b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab\xff\xfe",
    "no content": b"HTTP/1.1 204 No Content\r\n\r\n",
}


@pytest.mark.parametrize("name", RESPONSES)
def test_reads_what_http_client_reads(name):
    raw = RESPONSES[name]
    assert _response(bytearray(raw)) == _as_http_client_reads(raw)


def test_a_split_character_is_whole_in_the_text():
    assert _response(bytearray(RESPONSES["chunks"])) == (200, BODY.decode())


@pytest.mark.parametrize("raw", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}",  # cut short
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nshort",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Le",  # ends inside the headers
    b"garbage\r\n\r\n",
])
def test_a_broken_response_is_an_error(raw):
    with pytest.raises((http.client.HTTPException, ValueError)):
        _response(bytearray(raw))
