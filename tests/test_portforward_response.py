"""The HTTP response a port-forward carries, read from the bytes the websocket delivered
(diagnostics/sources/portforward.py `_response`): the same status and body as http.client reads,
whatever the framing, without its copies."""

from __future__ import annotations

import http.client
import io

import pytest

from diagnostics.inputs import SYNCZ
from diagnostics.sources.base import METRICS_PATH, NotCaptured, SourceFailure
from diagnostics.sources.live import _debug_json
from diagnostics.sources.portforward import _response, text_of

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


def _read(raw: bytes) -> tuple[int, str]:
    status, body = _response(bytearray(raw))
    return status, text_of(body)


@pytest.mark.parametrize("name", RESPONSES)
def test_reads_what_http_client_reads(name):
    raw = RESPONSES[name]
    assert _read(raw) == _as_http_client_reads(raw)


def test_a_split_character_is_whole_in_the_text():
    assert _read(RESPONSES["chunks"]) == (200, BODY.decode())


def test_the_body_is_handed_on_as_bytes_not_copied():
    data = bytearray(RESPONSES["content-length"])
    _, body = _response(data)
    assert isinstance(body, memoryview) and body.obj is data and bytes(body) == BODY


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


# ----------------------------------------------- what the live source makes of such a body


def _debug(raw: bytes, path: str = "/debug/syncz", compact=None):
    status, body = _response(bytearray(raw))
    return _debug_json(status, body, "istiod-1", path, compact)


def _ok(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def test_a_body_that_is_not_utf8_reads_as_before_its_bytes_replaced():
    raw = _ok(b'[{"proxy": "a\xff.ns", "cluster_id": "c1"}]')
    assert _debug(raw) == [{"proxy": "a\ufffd.ns", "cluster_id": "c1"}]
    assert [p.proxy for p in _debug(raw, compact=SYNCZ.compact)] == ["a\ufffd.ns"]


def test_blank_metrics_missing_and_junk_bodies():
    assert _debug(_ok(b" \n")) is None
    assert _debug(_ok(b""), compact=SYNCZ.compact) == []
    assert _debug(_ok(b"# HELP x\nx 1\n"), path=METRICS_PATH) == "# HELP x\nx 1\n"
    with pytest.raises(NotCaptured, match="no such thing"):
        _debug(b"HTTP/1.1 404 Not Found\r\nContent-Length: 13\r\n\r\nno such thing")
    for compact in (None, SYNCZ.compact):
        with pytest.raises(SourceFailure, match="not JSON"):
            _debug(_ok(b"[{"), compact=compact)


def test_frames_are_read_from_the_socket_in_large_reads():
    """websocket-client reads a frame's header and its payload in pieces of at most 16 kB,
    each a read of the socket; _BufferedReads serves them from reads of 256 kB. The frames
    and their payloads come out the same."""
    from websocket import ABNF
    from websocket._abnf import frame_buffer

    from diagnostics.sources.portforward import _BufferedReads

    payloads = [bytes([0]) + bytes([i % 251]) * 65_536 for i in range(16)]
    stream = b"".join(ABNF(1, 0, 0, 0, ABNF.OPCODE_BINARY, 0, p).format() for p in payloads)

    class Socket:
        def __init__(self, data: bytes):
            self.data, self.reads = data, 0

        def recv(self, size: int) -> bytes:
            self.reads += 1
            chunk, self.data = self.data[:size], self.data[size:]
            return chunk

        def gettimeout(self) -> float:
            return 5.0

    def frames(sock) -> list[bytes]:
        buffer = frame_buffer(sock.recv, skip_utf8_validation=True)
        return [buffer.recv_frame().data for _ in payloads]

    plain, buffered = Socket(stream), Socket(stream)
    assert frames(plain) == frames(_BufferedReads(buffered)) == payloads
    assert plain.reads >= 16 * 6  # a header and five pieces of payload a frame
    assert buffered.reads == -(-len(stream) // _BufferedReads.READ)
