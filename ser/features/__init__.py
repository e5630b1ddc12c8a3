"""Features of an utterance: the front end and librosa statistics (`extractor`), the two pretrained encoders with
their numba kernels and weights (`whisper_encoder`, `voice_encoder`, `fast_math`, `pretrained`), and feature tables
of many recordings (`extraction`, `dataset`)."""
