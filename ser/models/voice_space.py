"""A speaker space for diarisation, learnt on the training speakers only.

The voice encoder's embeddings of EmoDB's acted emotions vary with the emotion almost as much as with the speaker:
clustering two speakers' raw embeddings splits some pairs by emotion instead (BENCHMARKS.md, "Call analysis").
Within-class covariance normalisation (WCCN, the classic speaker-verification back end) whitens the embeddings
against how one speaker's voice varies (across emotions and telephone channels), so that what is left is mostly who
speaks. The transform is fitted on the training speakers' recordings, clean and through the given channel
conditions (each condition's embeddings computed by a stage of its own, so that changing one condition recomputes
only its own), and shipped inside the model artifact (``voice_space.npy``). This module fits it (pipeline side);
calls are projected into it by ``ser.inference.diarisation``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from joblib import Parallel, delayed
from tqdm import tqdm

from ser.data import emodb
from ser.errors import DataMissing
from ser.features import voice_encoder
from ser.features.dataset import heard_through

if TYPE_CHECKING:
    from ser.audio.channels import Condition

log = logging.getLogger(__name__)


def embedding_of_recording(path: Path, condition: Condition | None) -> np.ndarray:
    """The voice embedding of one recording, clean or through ``condition`` (seeded by the file's stem)."""
    signal = heard_through(path, condition, voice_encoder.SAMPLE_RATE)
    return voice_encoder.embedding(signal, voice_encoder.SAMPLE_RATE)


def embeddings(paths: Sequence[Path], conditions: Sequence[Condition | None], workers: int) -> np.ndarray:
    """Embeddings of every recording under every condition (``None``: clean), condition by condition."""
    jobs = [(path, condition) for condition in conditions for path in paths]
    runner = Parallel(n_jobs=workers, return_as="generator")
    rows = runner(delayed(embedding_of_recording)(path, condition) for path, condition in jobs)
    return np.vstack(list(tqdm(rows, total=len(jobs), desc="voice embeddings", unit="file")))


def within_speaker_whitening(vectors: np.ndarray, speakers: Sequence[str], regularisation: float) -> np.ndarray:
    """WCCN: the symmetric inverse square root of the within-speaker covariance, shrunk towards a scaled identity
    by ``regularisation`` (0: none, 1: as much again as its mean variance), so that unseen speakers do not get
    directions that eight training speakers never varied in blown up."""
    speakers = np.asarray(speakers)
    centred = np.vstack([vectors[speakers == s] - vectors[speakers == s].mean(axis=0) for s in np.unique(speakers)])
    covariance = np.cov(centred.T)
    covariance += regularisation * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
    values, vectors_ = np.linalg.eigh(covariance)
    return (vectors_ @ np.diag(values**-0.5) @ vectors_.T).astype(np.float32)


def fit(paths: Sequence[Path], embedded: Sequence[np.ndarray], regularisation: float) -> np.ndarray:
    """The whitening transform (256 x 256) of the training recordings ``paths`` from their embeddings, one array
    (one row per recording, in the order of ``paths``) per channel condition, the clean one included."""
    if any(len(vectors) != len(paths) for vectors in embedded):
        raise DataMissing("voice embeddings do not match the training recordings: rerun their stages")
    speakers = [emodb.parse_id(path.stem).speaker for _ in embedded for path in paths]
    transform = within_speaker_whitening(np.vstack(embedded), speakers, regularisation)
    log.info("voice space from %d speakers, %d embeddings", len(set(speakers)), len(speakers))
    return transform
