"""A 3-layer torch MLP wrapped as a scikit-learn classifier."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn


def _block(n_in: int, n_out: int, batch_norm: bool, dropout: float) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Linear(n_in, n_out)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(n_out))
    layers.append(nn.ReLU())
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return layers


class TorchMLPClassifier(ClassifierMixin, BaseEstimator):
    """Linear-ReLU-Linear-ReLU-Linear network, optionally with BatchNorm and Dropout after each hidden layer.

    Trained with Adam on cross-entropy for a fixed number of epochs; deterministic for a given ``seed``.
    """

    def __init__(
        self,
        hidden: int = 100,
        batch_norm: bool = False,
        dropout: float = 0.0,
        epochs: int = 60,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 64,
        class_weight: str | None = None,
        seed: int = 0,
        threads: int = 1,
    ) -> None:
        self.hidden = hidden
        self.batch_norm = batch_norm
        self.dropout = dropout
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.class_weight = class_weight
        self.seed = seed
        self.threads = threads

    def _network(self, n_features: int, n_classes: int) -> nn.Sequential:
        return nn.Sequential(
            *_block(n_features, self.hidden, self.batch_norm, self.dropout),
            *_block(self.hidden, self.hidden, self.batch_norm, self.dropout),
            nn.Linear(self.hidden, n_classes),
        )

    def fit(self, x: np.ndarray, y: np.ndarray) -> TorchMLPClassifier:
        x = np.asarray(x, dtype=np.float32)
        self.classes_, y_index = np.unique(np.asarray(y), return_inverse=True)
        self.n_features_in_ = x.shape[1]
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            generator = torch.Generator().manual_seed(self.seed)
            torch.manual_seed(self.seed)
            network = self._network(x.shape[1], len(self.classes_))
            weights = None
            if self.class_weight == "balanced":
                counts = np.bincount(y_index, minlength=len(self.classes_)).astype(np.float32)
                weights = torch.from_numpy(len(y_index) / (len(counts) * np.maximum(counts, 1)))
            loss_fn = nn.CrossEntropyLoss(weight=weights)
            optimizer = torch.optim.Adam(network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
            features, targets = torch.from_numpy(x), torch.from_numpy(y_index.astype(np.int64))
            network.train()
            for _ in range(self.epochs):
                order = torch.randperm(len(features), generator=generator)
                for start in range(0, len(order), self.batch_size):
                    batch = order[start : start + self.batch_size]
                    if self.batch_norm and len(batch) < 2:
                        continue
                    optimizer.zero_grad()
                    loss_fn(network(features[batch]), targets[batch]).backward()
                    optimizer.step()
            network.eval()
        finally:
            torch.set_num_threads(previous_threads)
        self.network_ = network
        return self

    def __getstate__(self) -> dict:
        # Torch pickles storages under memory addresses; numpy weights keep the artifact bytes reproducible.
        state = self.__dict__.copy()
        network = state.pop("network_", None)
        if network is not None:
            state["weights_"] = {name: t.detach().cpu().numpy().copy() for name, t in network.state_dict().items()}
        return state

    def __setstate__(self, state: dict) -> None:
        weights = state.pop("weights_", None)
        self.__dict__.update(state)
        if weights is not None:
            network = self._network(self.n_features_in_, len(self.classes_))
            network.load_state_dict({name: torch.from_numpy(array) for name, array in weights.items()})
            network.eval()
            self.network_ = network

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "network_")
        with torch.no_grad():
            logits = self.network_(torch.from_numpy(np.asarray(x, dtype=np.float32)))
            return torch.softmax(logits, dim=1).numpy().astype(np.float64)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(x), axis=1)]
