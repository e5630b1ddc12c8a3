"""Features of an utterance: the front end and librosa statistics (`extractor`), the two pretrained encoders with
their numba kernels and weights (`whisper_encoder`, `voice_encoder`, `fast_math`, `pretrained`; `int8_linear`:
Whisper's products in 8-bit integers), and feature tables of many recordings (`extraction`, `dataset`)."""
