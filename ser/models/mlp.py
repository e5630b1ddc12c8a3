"""A 3-layer torch MLP wrapped as a scikit-learn classifier.

Training uses torch; the fitted weights are kept as numpy arrays and inference is a numpy forward pass, so
serving a model neither imports torch (about 150 MB per worker) nor pickles torch storages (whose memory
addresses would make the artifact bytes differ between identical runs).

The same bits on every CPU vendor: torch's matrix products run in Intel's MKL, which picks its code by the CPU
and rounds differently on Intel and AMD machines even on its SSE2 ``COMPATIBLE`` branch (the default MLP trained
other weights on an Intel Xeon than on the AMD EPYC that wrote dvc.lock: babble 10 dB 0.804 against 0.860). So the
layers' products go through numpy's OpenBLAS, pinned to its Haswell kernels by ``import ser`` (the features, made
with it, are the same bits on both vendors); Adam's update is numpy arithmetic (torch's square root runs in MKL's
vector library); and Dropout draws its masks from the network's torch generator rather than from ``bernoulli_``,
which uses MKL's generator on Intel CPUs only. torch keeps autograd, the loss, batch norm and ReLU: kernels pinned to
AVX2 that no MKL branch changes (tests/test_reproducibility.py trains under four).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

BATCH_NORM_EPS = 1e-5


def _network(n_features: int, hidden: int, n_classes: int, batch_norm: bool, dropout: float, generator: Any) -> Any:
    from torch import nn

    linear, drop = _blas_layers()

    def block(n_in: int) -> list[nn.Module]:
        layers: list[nn.Module] = [linear(n_in, hidden)]
        if batch_norm:
            layers.append(nn.BatchNorm1d(hidden, eps=BATCH_NORM_EPS))
        layers.append(nn.ReLU())
        if dropout > 0:
            layers.append(drop(dropout, generator))
        return layers

    return nn.Sequential(*block(n_features), *block(hidden), linear(hidden, n_classes))


@functools.cache
def _blas_layers() -> tuple[type, type]:
    """torch layers whose arithmetic does not depend on the CPU vendor (module docstring): a Linear layer whose
    products run in numpy's BLAS, and a Dropout whose masks come from a given torch generator."""
    import torch
    from torch import nn

    class BlasProduct(torch.autograd.Function):
        """``x @ weight.T + bias`` and its gradients, the matrix products in numpy."""

        @staticmethod
        def forward(ctx: Any, x: Any, weight: Any, bias: Any) -> Any:
            ctx.save_for_backward(x, weight)
            inputs, weights = x.detach().numpy(), weight.detach().numpy()
            return torch.from_numpy(inputs @ weights.T + bias.detach().numpy())

        @staticmethod
        def backward(ctx: Any, grad: Any) -> tuple[Any, Any, Any]:
            x, weight = ctx.saved_tensors
            upstream = grad.contiguous().numpy()
            grad_x = torch.from_numpy(upstream @ weight.detach().numpy()) if ctx.needs_input_grad[0] else None
            grad_weight = torch.from_numpy(upstream.T @ x.detach().numpy())
            return grad_x, grad_weight, torch.from_numpy(upstream.sum(axis=0))

    class BlasLinear(nn.Linear):
        def forward(self, x: Any) -> Any:
            return BlasProduct.apply(x, self.weight, self.bias)

    class GeneratorDropout(nn.Dropout):
        def __init__(self, p: float, generator: Any) -> None:
            super().__init__(p)
            self.generator = generator

        def forward(self, x: Any) -> Any:
            if not self.training or self.p == 0:
                return x
            keep = torch.rand(x.shape, generator=self.generator) >= self.p
            return x * keep / (1.0 - self.p)

    return BlasLinear, GeneratorDropout


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
            networks = runner(delayed(_member_layers)(self, x, y_index, seed) for seed in seeds)
        else:
            networks = [_member_layers(self, x, y_index, seed) for seed in seeds]
        self.networks_ = [_fresh_arrays(layers) for layers in networks]
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
            network = _network(x.shape[1], self.hidden, n_classes, self.batch_norm, self.dropout, generator)
            weights = None
            if self.class_weight == "balanced":
                counts = np.bincount(y_index, minlength=n_classes).astype(np.float32)
                weights = torch.from_numpy(len(y_index) / (n_classes * np.maximum(counts, 1)))
            loss_fn = nn.CrossEntropyLoss(weight=weights, label_smoothing=self.label_smoothing)
            optimizer = NumpyAdam(list(network.parameters()), self.learning_rate, self.weight_decay)
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


class NumpyAdam:
    """Adam with L2 weight decay added to the gradient (as ``torch.optim.Adam``), its arithmetic in numpy on the
    parameters' memory: torch's square root runs in MKL's vector library, which rounds by the CPU (module
    docstring); numpy's is exactly rounded everywhere."""

    def __init__(
        self, parameters: list[Any], lr: float, weight_decay: float, betas: tuple[float, float] = (0.9, 0.999)
    ) -> None:
        self.parameters, self.lr, self.weight_decay, self.betas, self.eps = parameters, lr, weight_decay, betas, 1e-8
        self.moments = [(np.zeros(p.shape, np.float32), np.zeros(p.shape, np.float32)) for p in parameters]
        self.steps = 0

    def zero_grad(self) -> None:
        for parameter in self.parameters:
            parameter.grad = None

    def step(self) -> None:
        self.steps += 1
        beta1, beta2 = self.betas
        step_size = self.lr / (1.0 - beta1**self.steps)
        correction2 = math.sqrt(1.0 - beta2**self.steps)
        for parameter, (mean, square) in zip(self.parameters, self.moments, strict=True):
            if parameter.grad is None:
                continue
            values = parameter.detach().numpy()  # the parameter's memory: updated in place
            grad = parameter.grad.numpy()
            if self.weight_decay:
                grad = grad + np.float32(self.weight_decay) * values
            mean *= np.float32(beta1)
            mean += np.float32(1.0 - beta1) * grad
            square *= np.float32(beta2)
            square += np.float32(1.0 - beta2) * grad * grad
            denominator = np.sqrt(square) / np.float32(correction2) + np.float32(self.eps)
            values -= np.float32(step_size) * mean / denominator


LAYER_ARRAYS = ("weight", "bias", "bn_scale", "bn_shift")


def _fresh_arrays(layers: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    """The layers rebuilt from this module's keys and new float32 arrays: networks trained in worker processes come
    back with their own key strings and dtype objects, which pickle into other bytes than the same networks trained
    here (the artifact's hash would depend on the number of workers). ``np.array`` would keep an unpickled array's
    own dtype object, so each array is copied into a new one of the shared float32 dtype."""

    def fresh(values: np.ndarray) -> np.ndarray:
        copy = np.empty(values.shape, np.float32)
        copy[...] = values
        return copy

    return [{key: fresh(layer[key]) for key in LAYER_ARRAYS if key in layer} for layer in layers]


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
