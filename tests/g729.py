"""G.729 Annex A encoding for test and benchmark audio, through Belledonne's bcg729 (Debian's ``libbcg729-0``).

FFmpeg decodes G.729 but cannot encode it; the product only decodes. ``scripts/project test`` installs the library
where it may; without it the tests that need it are skipped.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

import numpy as np

FRAME_SAMPLES = 80  # 10 ms at 8 kHz
FRAME_BYTES = 10  # 8 kb/s


@cache
def library() -> ctypes.CDLL | None:
    """bcg729's shared library, or None when it is not installed."""
    name = ctypes.util.find_library("bcg729") or "libbcg729.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    lib.initBcg729EncoderChannel.restype = ctypes.c_void_p
    lib.initBcg729EncoderChannel.argtypes = [ctypes.c_uint8]
    lib.bcg729Encoder.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16), ctypes.POINTER(ctypes.c_uint8),
                                  ctypes.POINTER(ctypes.c_uint8)]  # fmt: skip
    lib.closeBcg729EncoderChannel.argtypes = [ctypes.c_void_p]
    return lib


def encode_g729(signal: np.ndarray) -> bytes:
    """``signal`` (mono float, 8 kHz) as a raw G.729 stream of 10-byte frames (no VAD), as Asterisk's ``g729`` file
    format stores it. RuntimeError when bcg729 is not installed."""
    lib = library()
    if lib is None:
        raise RuntimeError("libbcg729 is not installed (apt-get install libbcg729-0)")
    pcm = (np.clip(signal, -1.0, 1.0) * 32767).astype(np.int16)
    pcm = np.concatenate([pcm, np.zeros(-pcm.size % FRAME_SAMPLES, np.int16)])
    encoder = lib.initBcg729EncoderChannel(0)
    frame_bits = (ctypes.c_uint8 * FRAME_BYTES)()
    length = ctypes.c_uint8()
    stream = bytearray()
    try:
        for start in range(0, pcm.size, FRAME_SAMPLES):
            frame = np.ascontiguousarray(pcm[start : start + FRAME_SAMPLES])
            lib.bcg729Encoder(encoder, frame.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), frame_bits,
                              ctypes.byref(length))  # fmt: skip
            stream += bytes(frame_bits)[: length.value]
    finally:
        lib.closeBcg729EncoderChannel(encoder)
    return bytes(stream)
