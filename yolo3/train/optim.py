"""Optimiser construction: parameter groups without decay on BatchNorm and biases.

Weight decay pulls weights towards 0. For BatchNorm scales/shifts and biases that is a
bias on the function (not a complexity penalty), so they get none. Backbone parameters
may get a lower LR (fine-tuning) or be frozen. Groups carry `lr_scale` (multiplies the
scheduled LR) and `is_bias` (biases get the bias warmup) for the scheduler.
"""

from __future__ import annotations

import torch
from torch import nn

from yolo3.train.config import OptimConfig

# Module attribute names that form the backbone, per architecture family.
BACKBONE_PREFIXES = ("backbone.", "stem16.", "stem32.")


def is_backbone(name: str) -> bool:
    """True for a parameter name inside the feature extractor (not neck or heads)."""
    return name.startswith(BACKBONE_PREFIXES)


def freeze_backbone(model: nn.Module) -> int:
    """Stops gradients for backbone parameters; returns how many tensors were frozen."""
    count = 0
    for name, param in model.named_parameters():
        if is_backbone(name):
            param.requires_grad_(False)
            count += 1
    return count


def set_frozen_bn_eval(model: nn.Module) -> None:
    """Puts BatchNorm layers whose parameters are all frozen in eval mode (fixed stats)."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            params = list(module.parameters())
            if params and not any(p.requires_grad for p in params):
                module.eval()


def param_groups(
    model: nn.Module, weight_decay: float, backbone_lr_scale: float = 1.0
) -> list[dict]:
    """Splits trainable parameters into (decay | no decay) × (backbone | rest) groups.

    No decay: every BatchNorm parameter and every bias (including the heads' biases).
    Returns torch optimizer group dicts with extra keys `name`, `lr_scale`, `is_bias`;
    empty groups are left out.
    """
    no_decay_ids: set[int] = set()
    for module in model.modules():
        if isinstance(module, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)):
            no_decay_ids.update(id(p) for p in module.parameters(recurse=False))
    groups: dict[tuple[str, str], list[nn.Parameter]] = {}
    biases: dict[tuple[str, str], bool] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        part = "backbone" if is_backbone(name) else "head"
        if name.endswith(".bias"):
            kind = "bias"
        elif id(param) in no_decay_ids:
            kind = "norm"
        else:
            kind = "weight"
        groups.setdefault((part, kind), []).append(param)
        biases[(part, kind)] = kind == "bias"
    out = []
    for (part, kind), params in sorted(groups.items()):
        out.append({
            "params": params,
            "weight_decay": weight_decay if kind == "weight" else 0.0,
            "name": f"{part}/{kind}",
            "lr_scale": backbone_lr_scale if part == "backbone" else 1.0,
            "is_bias": biases[(part, kind)],
        })
    return out


def build_optimizer(model: nn.Module, cfg: OptimConfig, weight_decay: float | None = None) -> torch.optim.Optimizer:
    """The optimiser `cfg.name` over `param_groups(model)`; `weight_decay` overrides cfg's
    (the engine passes it scaled to the effective batch)."""
    wd = cfg.weight_decay if weight_decay is None else weight_decay
    groups = param_groups(model, wd, cfg.backbone_lr_scale)
    if not groups:
        raise ValueError("no trainable parameters: everything is frozen")
    for g in groups:
        g["lr"] = cfg.lr0 * g["lr_scale"]
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr0, momentum=cfg.momentum, nesterov=cfg.nesterov)
    if cfg.name == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr0, betas=(cfg.momentum, cfg.beta2))
    if cfg.name == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr0, betas=(cfg.momentum, cfg.beta2))
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=cfg.lr0, momentum=cfg.momentum, alpha=cfg.beta2)
    raise ValueError(f"unknown optimizer {cfg.name!r}")


def set_momentum(optimizer: torch.optim.Optimizer, momentum: float) -> None:
    """Writes momentum (SGD/RMSprop) or beta1 (Adam family) into every group."""
    for g in optimizer.param_groups:
        if "betas" in g:
            g["betas"] = (momentum, g["betas"][1])
        elif "momentum" in g:
            g["momentum"] = momentum
