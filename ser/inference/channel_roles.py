"""Which channel of a stereo call is the customer's: the configured one, or (``customer_channel: auto``) the one
the first-speaker rule gives, as for mono calls: whoever speaks first is ``first_speaker`` (the agent by default:
agents answer with a greeting), so with the default the customer is on the channel that speaks second.

Recorders differ in where they put the caller, and a batch may mix them; ``auto`` reads it from each call. It trusts
the first segment the detector keeps (music, tones and a voice leaking in from the other channel are not
segments): a call whose first sound on the customer's line is speech (a caller talking before the agent answers,
or over a recorded announcement) gets its roles swapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from ser.audio.decoding import AudioError
from ser.inference.analysis_config import AUTO_CHANNEL, AnalysisConfig
from ser.inference.speech import Segment

ChannelRule = Literal["configured", "first speaker"]


def customer_channel(
    segments: Sequence[Segment], n_channels: int, config: AnalysisConfig
) -> tuple[int | None, ChannelRule]:
    """The customer's channel of a call analysed channel by channel, and how it was decided; None when ``auto``
    found no speech on any channel (no segment then has a role to give)."""
    if config.customer_channel != AUTO_CHANNEL:
        if config.customer_channel >= n_channels:
            raise AudioError(f"customer_channel {config.customer_channel} does not exist: the call has {n_channels}")
        return int(config.customer_channel), "configured"
    if n_channels != 2:
        raise AudioError(
            f"customer_channel {AUTO_CHANNEL} tells two channels apart; this call has {n_channels}: name the"
            " customer's channel"
        )
    if not segments:
        return None, "first speaker"
    first = min(segments, key=lambda seg: (seg.start_s, seg.channel)).channel
    return (first if config.first_speaker == "customer" else 1 - first), "first speaker"
