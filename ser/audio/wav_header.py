"""WAV files whose header undercounts their audio: what a recorder leaves when it stops before finishing the file.

A recorder writes the RIFF header first, often with sizes of 0, and fixes the sizes when the call ends; killed,
crashed or copied mid-call, it leaves a header that says the audio is shorter than it is (or empty). libsndfile
believes the header, so such a call would read as silence or be cut short; ``undercounted`` tells it, and the
decoder then has FFmpeg read to the end of the file instead.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

HEAD_BYTES = 1 << 16  # the data chunk of any WAV a recorder writes starts within this
# Fewer bytes than this much audio after the data chunk are padding or a tag (an ID3v1 tag is 128 bytes), not
# audio a recorder failed to count: reading them would add a burst of noise and a misleading warning.
MIN_UNCOUNTED_S = 0.1


def _read(source: str | Path | bytes | bytearray, offset: int, length: int) -> bytes:
    if isinstance(source, bytes | bytearray):
        return bytes(source[offset : offset + length])
    with open(source, "rb") as handle:
        handle.seek(offset)
        return handle.read(length)


def _is_chunk_header(raw: bytes, room: int) -> bool:
    """Whether 8 bytes are a RIFF chunk's id (four printable ASCII characters) and a size that fits in ``room``."""
    if len(raw) < 8 or not all(32 <= byte < 127 for byte in raw[:4]):
        return False
    return struct.unpack("<I", raw[4:8])[0] <= room - 8


def undercounted(source: object) -> bool:
    """Whether ``source`` (a path or bytes; anything else: False) is a RIFF WAV whose data chunk ends before audio
    that follows it, rather than before another chunk or the end of the file."""
    if not isinstance(source, str | Path | bytes | bytearray):
        return False
    try:
        size = len(source) if isinstance(source, bytes | bytearray) else os.path.getsize(source)
        head = _read(source, 0, HEAD_BYTES)
    except OSError:
        return False
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return False
    position, bytes_per_second = 12, 0
    while position + 8 <= len(head):
        chunk, length = head[position : position + 4], struct.unpack("<I", head[position + 4 : position + 8])[0]
        if chunk == b"fmt " and position + 20 <= len(head):
            bytes_per_second = struct.unpack("<I", head[position + 16 : position + 20])[0]
        if chunk == b"data":
            end = position + 8 + length + (length & 1)  # chunks are padded to an even size
            if length == 0xFFFFFFFF or end + 8 > size:  # "to the end of the file" (streamed), or nothing after it
                return False
            if size - end < MIN_UNCOUNTED_S * bytes_per_second:  # a tag or padding, not a call's lost minutes
                return False
            try:
                return not _is_chunk_header(_read(source, end, 8), size - end)
            except OSError:
                return False
        position += 8 + length + (length & 1)
    return False
