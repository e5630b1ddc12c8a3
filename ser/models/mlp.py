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
    With ``members`` > 1, that many networks are trained from different seeds (the first from ``seed``) and their
    probabilities averaged: a seed ensemble, which evens out the spread a single network's initialisation leaves.
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
        members: int = 1,
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
        self.members = members
        self.seed = seed
        self.threads = threads

    def fit(self, x: np.ndarray, y: np.ndarray, n_jobs: int = 1) -> TorchMLPClassifier:
        """Train the member networks; ``n_jobs`` processes train members side by side (the same bits as one)."""
        x = np.asarray(x, dtype=np.float32)
        self.classes_, y_index = np.unique(np.asarray(y), return_inverse=True)
        self.n_features_in_ = x.shape[1]
        seeds = self.member_seeds()
        if n_jobs > 1 and len(seeds) > 1:
            from joblib import Parallel, delayed

            runner = Parallel(n_jobs=min(n_jobs, len(seeds)))
            self.networks_ = runner(delayed(_member_layers)(self, x, y_index, seed) for seed in seeds)
        else:
            self.networks_ = [_member_layers(self, x, y_index, seed) for seed in seeds]
        return self

    def member_seeds(self) -> list[int]:
        """The seed of each member network: ``seed`` first, then seeds drawn from it."""
        if self.members < 1:
            raise ValueError(f"members must be at least 1, got {self.members}")
        drawn = np.random.SeedSequence(self.seed).generate_state(self.members - 1)
        return [self.seed, *(int(value) for value in drawn)]

    def train_network(self, x: np.ndarray, y_index: np.ndarray, seed: int | None = None) -> Any:
        """Train and return one torch network (in eval mode) for float32 features and class indices."""
        import torch
        from torch import nn

        n_classes = int(y_index.max()) + 1
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            seed = self.seed if seed is None else seed
            generator = torch.Generator().manual_seed(seed)
            torch.manual_seed(seed)
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

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Artifacts written before seed ensembles (session 22) hold one network as ``layers_``.
        if "layers_" in state:
            state = {**state, "networks_": [state.pop("layers_")], "members": state.get("members", 1)}
        super().__setstate__(state)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "networks_")
        features = np.asarray(x, dtype=np.float32)
        probabilities = _forward(self.networks_[0], features)
        for layers in self.networks_[1:]:
            probabilities += _forward(layers, features)
        return probabilities / len(self.networks_)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(x), axis=1)]


def _member_layers(model: TorchMLPClassifier, x: np.ndarray, y_index: np.ndarray, seed: int) -> list:
    """One member network trained from ``seed``, as numpy layers."""
    return _layers_as_numpy(model.train_network(x, y_index, seed))


def _forward(layers: list[dict[str, np.ndarray]], features: np.ndarray) -> np.ndarray:
    """Class probabilities of one network for float32 features (a numpy forward pass)."""
    activation = features
    for index, layer in enumerate(layers):
        activation = activation @ layer["weight"] + layer["bias"]
        if "bn_scale" in layer:
            activation = activation * layer["bn_scale"] + layer["bn_shift"]
        if index < len(layers) - 1:
            activation = np.maximum(activation, 0.0)
    logits = activation.astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    return probabilities / probabilities.sum(axis=1, keepdims=True)
