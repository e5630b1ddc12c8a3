"""A 3-layer torch MLP wrapped as a scikit-learn classifier.

Training uses torch; the fitted weights are kept as numpy arrays and inference is a numpy forward pass, so
serving a model neither imports torch (about 150 MB per worker) nor pickles torch storages (whose memory
addresses would make the artifact bytes differ between identical runs).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

BATCH_NORM_EPS = 1e-5


def _network(n_features: int, hidden: int, n_classes: int, batch_norm: bool, dropout: float) -> Any:
    from torch import nn

    def block(n_in: int) -> list[nn.Module]:
        layers: list[nn.Module] = [nn.Linear(n_in, hidden)]
        if batch_norm:
            layers.append(nn.BatchNorm1d(hidden, eps=BATCH_NORM_EPS))
        layers.append(nn.ReLU())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        return layers

    return nn.Sequential(*block(n_features), *block(hidden), nn.Linear(hidden, n_classes))


def _layers_as_numpy(network: Any) -> list[dict[str, np.ndarray]]:
    """Linear and BatchNorm parameters in order, as float32 numpy arrays (Dropout/ReLU carry none)."""
    from torch import nn

    layers = []
    for module in network:
        if isinstance(module, nn.Linear):
            layers.append(
                {"weight": module.weight.detach().numpy().T.copy(), "bias": module.bias.detach().numpy().copy()}
            )
        elif isinstance(module, nn.BatchNorm1d):
            scale = module.weight.detach().numpy() / np.sqrt(module.running_var.numpy() + module.eps)
            shift = module.bias.detach().numpy() - module.running_mean.numpy() * scale
            layers[-1]["bn_scale"], layers[-1]["bn_shift"] = scale.astype(np.float32), shift.astype(np.float32)
    return layers


class TorchMLPClassifier(ClassifierMixin, BaseEstimator):
    """Linear-ReLU-Linear-ReLU-Linear network, optionally with BatchNorm and Dropout after each hidden layer.

    Trained with Adam on cross-entropy (optionally with label smoothing: each target keeps ``1 - label_smoothing``
    and spreads the rest over all classes) for a fixed number of epochs; deterministic for a given ``seed``.
    """

    def __init__(
        self,
        hidden: int = 100,
        batch_norm: bool = False,
        dropout: float = 0.0,
        epochs: int = 60,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        label_smoothing: float = 0.0,
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
        self.label_smoothing = label_smoothing
        self.batch_size = batch_size
        self.class_weight = class_weight
        self.seed = seed
        self.threads = threads

    def fit(self, x: np.ndarray, y: np.ndarray) -> TorchMLPClassifier:
        x = np.asarray(x, dtype=np.float32)
        self.classes_, y_index = np.unique(np.asarray(y), return_inverse=True)
        self.n_features_in_ = x.shape[1]
        self.layers_ = _layers_as_numpy(self.train_network(x, y_index))
        return self

    def train_network(self, x: np.ndarray, y_index: np.ndarray) -> Any:
        """Train and return the torch network (in eval mode) for float32 features and class indices."""
        import torch
        from torch import nn

        n_classes = int(y_index.max()) + 1
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            generator = torch.Generator().manual_seed(self.seed)
            torch.manual_seed(self.seed)
            network = _network(x.shape[1], self.hidden, n_classes, self.batch_norm, self.dropout)
            weights = None
            if self.class_weight == "balanced":
                counts = np.bincount(y_index, minlength=n_classes).astype(np.float32)
                weights = torch.from_numpy(len(y_index) / (n_classes * np.maximum(counts, 1)))
            loss_fn = nn.CrossEntropyLoss(weight=weights, label_smoothing=self.label_smoothing)
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
            return network.eval()
        finally:
            torch.set_num_threads(previous_threads)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "layers_")
        activation = np.asarray(x, dtype=np.float32)
        for index, layer in enumerate(self.layers_):
            activation = activation @ layer["weight"] + layer["bias"]
            if "bn_scale" in layer:
                activation = activation * layer["bn_scale"] + layer["bn_shift"]
            if index < len(self.layers_) - 1:
                activation = np.maximum(activation, 0.0)
        logits = activation.astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        return probabilities / probabilities.sum(axis=1, keepdims=True)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(x), axis=1)]
