"""A long call through `ser analyze`: wall time and peak RSS of every process (issue #15: a 2-hour call completes,
peak RSS per worker <= 500 MB).

The call (stereo, 8 kHz mu-law by default, as recorders store calls) is written to disk block by block: turns of
EmoDB test-speaker recordings with hold music and tones between some of them, over line noise. The CLI analyses it
in its own process with ``--workers`` threads (worker processes before session 24); a sampler reads the RSS of that
process and of any children every 0.2 s (psutil).

`--encode m4a` stores the call as AAC in an M4A file (block by block, with FFmpeg through PyAV), a format that cannot
be read in place: the CLI first decodes it into a temporary WAV, which must not hold the call in memory either.

`--legs` writes the call's two channels to two mono files (the customer's leg, channel 0, and the agent's) and
analyses them as one call (`ser analyze CUSTOMER AGENT --legs`), which first joins them into a temporary stereo file.

Needs a trained project (`dvc repro`).
Usage: python benchmarks/long_call.py [--hours 2] [--workers 2] [--legs | --encode m4a]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ser  # noqa: F401  (first: the SIMD pins)

# isort: split

import librosa
import numpy as np
import psutil
import soundfile as sf

from tests.speech import melody, ringback

ROOT = Path(__file__).resolve().parents[1]


def write_call(path: Path, hours: float, rate: int, subtype: str, seed: int = 0) -> float:
    """Write a stereo call of ``hours`` to ``path`` block by block; returns its duration in seconds."""
    rng = np.random.default_rng(seed)
    recordings = {s: sorted((ROOT / "data/raw/wav").glob(f"{s}*.wav")) for s in ("03", "08")}
    cache = {
        path: librosa.resample(sf.read(path, dtype="float32")[0], orig_sr=16000, target_sr=rate)
        for paths in recordings.values()
        for path in paths
    }
    fillers = [librosa.resample(melody(3.0, 1), orig_sr=16000, target_sr=rate),
               librosa.resample(ringback(3.0), orig_sr=16000, target_sr=rate)]  # fmt: skip
    written, lane = 0, 0
    with sf.SoundFile(path, "w", samplerate=rate, channels=2, subtype=subtype, format="WAV") as sink:
        while written < hours * 3600 * rate:
            speaker = ("03", "08")[lane]
            for _ in range(int(rng.integers(1, 4))):
                signal = cache[recordings[speaker][int(rng.integers(len(recordings[speaker])))]]
                block = np.zeros((int(rng.uniform(0.4, 1.2) * rate) + len(signal), 2), np.float32)
                block[-len(signal) :, lane] = signal
                if rng.random() < 0.1:
                    filler = fillers[int(rng.integers(2))]
                    block = np.vstack([block, np.stack([filler, np.zeros_like(filler)], axis=1)])
                block += rng.standard_normal(block.shape).astype(np.float32) * 0.002
                sink.write(block)
                written += len(block)
            lane = 1 - lane
    return written / rate


def split_legs(path: Path, rate: int, subtype: str) -> list[Path]:
    """The stereo call's channels as two mono files beside it (customer = channel 0, agent = channel 1)."""
    legs = [path.with_name("customer.wav"), path.with_name("agent.wav")]
    with sf.SoundFile(path) as source:
        sinks = [sf.SoundFile(leg, "w", samplerate=rate, channels=1, subtype=subtype, format="WAV") for leg in legs]
        for block in source.blocks(blocksize=60 * rate, dtype="float32", always_2d=True):
            for channel, sink in enumerate(sinks):
                sink.write(block[:, channel])
        for sink in sinks:
            sink.close()
    return legs


def encode_m4a(path: Path, rate: int, bit_rate: int = 32000) -> Path:
    """The WAV call re-encoded as stereo AAC in an M4A file beside it, block by block."""
    import av

    target = path.with_suffix(".m4a")
    with sf.SoundFile(path) as source, av.open(str(target), "w", format="ipod") as container:
        stream = container.add_stream("aac", rate=rate, layout="stereo")
        stream.bit_rate = bit_rate
        for block in source.blocks(blocksize=60 * rate, dtype="float32", always_2d=True):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block.T), format="fltp", layout="stereo")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=int, default=8000)
    parser.add_argument("--subtype", default="ULAW")
    parser.add_argument("--legs", action="store_true", help="the two sides in two mono files (--legs)")
    parser.add_argument("--encode", choices=["m4a"], help="store the call as AAC in M4A instead of WAV")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "call.wav"
        duration = write_call(path, args.hours, args.rate, args.subtype)
        print(
            f"call: {duration / 3600:.2f} h stereo {args.rate} Hz {args.subtype}, {path.stat().st_size / 2**20:.0f} MB"
        )
        inputs = [str(path)]
        if args.legs:
            inputs = [str(leg) for leg in split_legs(path, args.rate, args.subtype)] + ["--legs"]
            path.unlink()
            print("as two mono files, one per leg (--legs)")
        elif args.encode:
            inputs = [str(encode_m4a(path, args.rate))]
            path.unlink()
            print(f"stored as AAC 32 kb/s in M4A: {Path(inputs[0]).stat().st_size / 2**20:.0f} MB")
        command = [sys.executable, "-m", "ser.cli", "--model", str(ROOT / "models/model"), "analyze", *inputs,
                   "--json", "--workers", str(args.workers)]  # fmt: skip
        started = time.perf_counter()
        with open(Path(folder) / "out.json", "w") as out:
            process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.DEVNULL)
            main_process = psutil.Process(process.pid)
            peaks: dict[int, tuple[str, float]] = {}
            while process.poll() is None:
                try:
                    for proc in [main_process, *main_process.children(recursive=True)]:
                        rss = proc.memory_info().rss / 2**20
                        role = "cli" if proc.pid == process.pid else "worker"
                        peaks[proc.pid] = (role, max(rss, peaks.get(proc.pid, (role, 0.0))[1]))
                except psutil.Error:
                    pass
                time.sleep(0.2)
        elapsed = time.perf_counter() - started
        if process.returncode != 0:
            sys.exit(f"ser analyze failed with exit code {process.returncode}")
        import json

        result = json.loads((Path(folder) / "out.json").read_text())
        print(f"analysed in {elapsed:.1f} s ({duration / elapsed:.0f}x real time), {len(result['timeline'])} segments, "
              f"customer satisfaction {result['summary']['satisfaction']}")  # fmt: skip
        for pid, (role, peak) in sorted(peaks.items(), key=lambda item: item[1][0]):
            print(f"  peak RSS {role:<6} pid {pid}: {peak:.0f} MB")


if __name__ == "__main__":
    main()
