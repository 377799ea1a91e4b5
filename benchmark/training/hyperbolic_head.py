"""HypCD's hyperbolic head (Liu, He, Han, CVPR 2025) as an option of the SimGCD-style methods and of SelEx
(methods/README.md, "HypCD as a head option", "HypCD on SelEx").

The backbone feature (or a projector's output, for a host with a projector) is clipped to norm ``clip_radius`` and
mapped into the Poincaré ball of curvature -c by the exponential map at the origin (``ball_point``). The classifier
is a hyperbolic linear layer (Möbius matrix-vector product, then Möbius addition of a bias mapped into the ball;
``released_code``: that addition at curvature 1, as the release's ``HypLinear`` calls it); its output coordinates
are the host's logits. Representation learning runs on the ball points themselves (no projector): InfoNCE and
SupCon with the negative geodesic distance as similarity ("distance" losses) and the same losses on the cosine of
the ball points at temperatures scaled by ``angle_temperature_scale`` ("angle" losses), mixed as
``(1 - α) L_angle + α L_distance`` with α rising linearly to ``distance_weight_max`` over the first
``distance_ramp_fraction`` of the epochs.
"""
from __future__ import annotations

import torch
from torch import nn

from benchmark.core.errors import GFaceError
from benchmark.training.losses import info_nce_of_similarity, supcon_of_similarity
from benchmark.training.poincare import (clip_norm, cosine_similarity_matrix, expmap0, mobius_add, mobius_matvec,
                                         pairwise_distance, project)

HEADS = ("cosine", "hyperbolic")


def check_head(head: str, rebalance: float, curvature: float, clip_radius: float, distance_weight_max: float,
               method_name: str) -> None:
    """The head's name, and its settings: curvature > 0 and no MEK add-on for the hyperbolic head; whatever the head,
    the clipping radius (>= 0) and the hybrid loss's α_max (in [0, 1])."""
    if head not in HEADS:
        raise GFaceError(f"{method_name}.head={head!r} is not one of {', '.join(HEADS)}; "
                         f"set {method_name}.head=cosine (the paper's head) or {method_name}.head=hyperbolic (HypCD)")
    if head == "hyperbolic" and curvature <= 0:
        raise GFaceError(f"{method_name}.curvature={curvature} must be positive (the ball has curvature -c); "
                         f"e.g. {method_name}.curvature=0.1")
    if head == "hyperbolic" and rebalance:
        raise GFaceError(f"{method_name}.rebalance computes class activation maps with cosine prototypes, which the "
                         f"hyperbolic head does not have; set {method_name}.rebalance=0 or {method_name}.head=cosine")
    if clip_radius < 0:
        raise GFaceError(f"{method_name}.clip_radius={clip_radius} must be >= 0 (0: no feature clipping); "
                         f"e.g. {method_name}.clip_radius=2.0")
    if not 0.0 <= distance_weight_max <= 1.0:
        raise GFaceError(f"{method_name}.distance_weight_max={distance_weight_max}: the distance losses' share α_max "
                         f"of the hybrid loss lies in [0, 1]; e.g. {method_name}.distance_weight_max=1.0")


def ball_point(feats: torch.Tensor, curvature: float, clip_radius: float) -> torch.Tensor:
    """``exp_0^c(min(1, r / ||f||) f)`` in float32, projected inside the ball (``clip_radius`` 0: no clipping)."""
    return project(expmap0(clip_norm(feats.float(), clip_radius), curvature), curvature)


class HyperbolicClassifier(nn.Module):
    """Backbone feature -> ball point (``to_ball``) -> K logits (``classify``); ``forward`` does both."""

    def __init__(self, feature_dim: int, n_classes: int, curvature: float, clip_radius: float,
                 released_code: bool = False):
        super().__init__()
        linear = nn.Linear(feature_dim, n_classes)  # PyTorch's default initialisation, as the release's HypLinear
        self.weight = nn.Parameter(linear.weight.detach().clone())
        self.bias = nn.Parameter(linear.bias.detach().clone())
        self.curvature, self.clip_radius = curvature, clip_radius
        self.bias_curvature = 1.0 if released_code else curvature  # the release's HypLinear adds the bias at c = 1

    def to_ball(self, feats: torch.Tensor) -> torch.Tensor:
        return ball_point(feats, self.curvature, self.clip_radius)

    def classify(self, ball: torch.Tensor) -> torch.Tensor:
        c = self.curvature
        moved = mobius_add(project(mobius_matvec(self.weight, ball, c), c), expmap0(self.bias, c), self.bias_curvature)
        return project(moved, c)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.classify(self.to_ball(feats))


def distance_weight(epoch: int, epochs: int, ramp_fraction: float, max_weight: float) -> float:
    """α: ``(epoch + 1) / (ramp_fraction x epochs)`` clipped to [0, 1], times ``max_weight`` (release: 0-200)."""
    ramp = max(ramp_fraction * epochs, 1e-12)
    return max_weight * min(1.0, max(0.0, (epoch + 1) / ramp))


def hybrid_contrastive_loss(ball: torch.Tensor, labelled: torch.Tensor, labels: torch.Tensor, sup_weight: float,
                            curvature: float, nce_temperature: float, supcon_temperature: float, angle_scale: float,
                            alpha: float) -> tuple[torch.Tensor, dict[str, float]]:
    """``(1 - α) [(1-λ) InfoNCE_angle + λ SupCon_angle] + α [(1-λ) InfoNCE_dist + λ SupCon_dist]`` on the 2B ball
    points ``ball``; ``labelled``/``labels`` over the 2B rows. SupCon carries no ``T / T_base`` factor (release)."""
    distance_sim = -pairwise_distance(ball, ball, curvature)
    angle_sim = cosine_similarity_matrix(ball)
    sub = labelled.nonzero().squeeze(1)
    terms = {
        "infonce_dist": info_nce_of_similarity(distance_sim, nce_temperature),
        "supcon_dist": supcon_of_similarity(distance_sim[sub][:, sub], labels[sub], supcon_temperature,
                                            supcon_temperature),
        "infonce_angle": info_nce_of_similarity(angle_sim, nce_temperature * angle_scale),
        "supcon_angle": supcon_of_similarity(angle_sim[sub][:, sub], labels[sub], supcon_temperature * angle_scale,
                                             supcon_temperature * angle_scale),
    }
    distance = (1 - sup_weight) * terms["infonce_dist"] + sup_weight * terms["supcon_dist"]
    angle = (1 - sup_weight) * terms["infonce_angle"] + sup_weight * terms["supcon_angle"]
    return (1 - alpha) * angle + alpha * distance, {k: v.item() for k, v in terms.items()}
