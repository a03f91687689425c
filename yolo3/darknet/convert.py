"""darknet `.cfg` + `.weights` ⇄ yolo3 safetensors checkpoints.

`convert_darknet(cfg, weights, out)` loads darknet files into the registered yolo3
architecture the cfg describes and saves a checkpoint whose metadata carries the
anchors, input size, class count and [yolo] ignore_thresh from the cfg, plus the
darknet header and training options, so `export_darknet` writes the same files back
(the `.weights` byte for byte; the `.cfg` with the same layers and options).

Converted models use bn_eps = 1e-5 by default: darknet's GPU/cuDNN BatchNorm exactly (see
`yolo3.darknet.network` for the CPU path's deviation); `bn="darknet-cpu"` stores darknet's
CPU formula instead (`yolo3.darknet.bn`; metadata darknet.bn records it, and export undoes it).
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

from yolo3.config import ModelConfig
from yolo3.darknet.bn import BN_MODES, from_cpu_bn, to_cpu_bn
from yolo3.darknet.cfg import DarknetCfg, DarknetCfgError, Net, Yolo, format_cfg, load_cfg
from yolo3.darknet.match import match_cfg
from yolo3.darknet.network import yolo_indices
from yolo3.darknet.templates import arch_layers
from yolo3.darknet.weights import WeightsHeader, load_weights, save_weights
from yolo3.io.checkpoint import atomic_write, load_model, save_model
from yolo3.models import YOLOv3Base, build_model

# darknet's stock [net] training options, written when a model has none of its own.
STOCK_NET = {"batch": "64", "subdivisions": "16", "momentum": "0.9", "decay": "0.0005", "angle": "0",
             "saturation": "1.5", "exposure": "1.5", "hue": ".1", "learning_rate": "0.001", "burn_in": "1000",
             "max_batches": "500200", "policy": "steps", "steps": "400000,450000", "scales": ".1,.1"}


# The 80 COCO class names in darknet's order (its data/coco.names), shipped as package data.
COCO_NAMES = Path(__file__).resolve().parents[1] / "configs" / "coco.names"


def read_names(path: str | Path) -> list[str]:
    """A darknet `.names` file: one class name per non-empty line. `coco.names` that is
    not in the working directory is read from the copy yolo3 ships."""
    path = Path(path)
    if not path.exists() and path.name == COCO_NAMES.name:
        path = COCO_NAMES
    try:
        names = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    except OSError as err:
        raise DarknetCfgError(f"{path}: cannot read class names: {err}") from err
    return [n for n in names if n]


def default_names(num_classes: int) -> list[str] | None:
    """Names for a cfg given without a .names file: the COCO names for 80 classes."""
    return read_names(COCO_NAMES) if num_classes == 80 else None


def _yolo_dict(layer: Yolo) -> dict[str, Any]:
    data = dataclasses.asdict(layer)
    data.pop("line")
    data["mask"], data["anchors"] = list(layer.mask), [list(a) for a in layer.anchors]
    return data


def darknet_metadata(cfg: DarknetCfg, header: WeightsHeader, model_cfg: ModelConfig) -> dict[str, Any]:
    """Checkpoint metadata for a model read from darknet files.

    `ignore_thresh` is one float when all [yolo] layers agree, else a list per scale
    (stride ascending). `darknet` keeps what the .cfg/.weights held beyond the weights.
    """
    yolos = [layer for layer in cfg.layers if isinstance(layer, Yolo)]
    per_scale = [cfg.layers[i].ignore_thresh for i in yolo_indices(cfg)]  # type: ignore[union-attr]
    return {
        "ignore_thresh": per_scale[0] if len(set(per_scale)) == 1 else per_scale,
        "source": {"format": "darknet", "cfg": cfg.path, "num_classes": model_cfg.num_classes},
        "darknet": {
            "header": header.to_dict(),
            "net": {"width": cfg.net.width, "height": cfg.net.height, "extra": dict(cfg.net.extra)},
            "yolo": [_yolo_dict(y) for y in yolos],  # cfg order
        },
    }


def load_darknet(cfg_path: str | Path, weights_path: str | Path | None = None,
                 class_names: list[str] | None = None, bn: str = "darknet-gpu") -> tuple[YOLOv3Base, dict[str, Any]]:
    """Builds the registered yolo3 model a darknet cfg describes and loads its weights.

    Returns (model in eval mode, checkpoint metadata). Without `weights_path` the
    model keeps its fresh initialisation; without `class_names` an 80-class cfg gets
    the COCO names (`COCO_NAMES`), others none (the class ids). `bn`: 'darknet-gpu'
    ((x − μ)/√(var + 1e-5), default) or 'darknet-cpu' ((x − μ)/(√var + 1e-6), darknet's
    CPU path; bn_eps 0). Raises DarknetCfgError / DarknetWeightsError naming the file
    when cfg or weights do not fit.
    """
    if bn not in BN_MODES:
        raise ValueError(f"bn={bn!r}; choose one of {', '.join(BN_MODES)}")
    cfg = load_cfg(cfg_path)
    model_cfg = match_cfg(cfg, class_names)
    if class_names is None and model_cfg.num_classes == 80:  # darknet's stock COCO models
        model_cfg = dataclasses.replace(model_cfg, class_names=default_names(80))
    if bn == "darknet-cpu":
        model_cfg = dataclasses.replace(model_cfg, bn_eps=0.0)
    model = build_model(model_cfg)
    header = load_weights(weights_path, model.conv_layers()) if weights_path is not None else WeightsHeader()
    if bn == "darknet-cpu":
        to_cpu_bn(model)
    meta = darknet_metadata(cfg, header, model_cfg)
    meta["darknet"]["bn"] = bn
    meta["source"]["weights"] = str(weights_path) if weights_path is not None else None
    return model.eval(), meta


def convert_darknet(cfg_path: str | Path, weights_path: str | Path, out: str | Path,
                    names_path: str | Path | None = None, bn: str = "darknet-gpu") -> ModelConfig:
    """darknet `.cfg` + `.weights` → yolo3 safetensors checkpoint at `out`; returns its config.

    bn: 'darknet-gpu' (default) or 'darknet-cpu' BatchNorm formula (see `load_darknet`).
    """
    names = read_names(names_path) if names_path is not None else None
    if names is not None:
        classes = match_cfg(load_cfg(cfg_path)).num_classes
        if len(names) != classes:
            raise DarknetCfgError(f"{names_path}: {len(names)} class names, but {cfg_path} has classes={classes}; "
                                  "give one name per line for each class (or drop --names)")
    model, meta = load_darknet(cfg_path, weights_path, names, bn)
    save_model(out, model, **meta)
    return model.cfg


def darknet_cfg_for(model: YOLOv3Base, meta: dict[str, Any] | None = None) -> DarknetCfg:
    """The darknet cfg of a yolo3 model, reusing the [net]/[yolo] options `meta` recorded.

    A recorded [yolo] layer (its mask and anchor list, e.g. tiny's mask=1,2,3) is
    reused when it still selects this model's anchors and classes; otherwise anchors
    are listed scale by scale with masks 0,1,2 / 3,4,5 / ...
    """
    meta = meta or {}
    cfg = model.cfg
    if cfg.xy_mode != "paper":
        raise DarknetCfgError(f"model has xy_mode={cfg.xy_mode!r}; darknet's [yolo] layer decodes only the paper's "
                              "bx = sigmoid(tx) + cx, so it would run a different model")
    darknet = meta.get("darknet") or {}
    thresh = meta.get("ignore_thresh")
    yolo_opts = {"ignore_thresh": thresh} if isinstance(thresh, (int, float)) else {}
    anchors = model.anchors.tolist()
    layers = arch_layers(dataclasses.replace(cfg, anchors=anchors), yolo_opts)
    recorded = [Yolo(**{**y, "mask": tuple(y["mask"]), "anchors": tuple(tuple(a) for a in y["anchors"])})
                for y in darknet.get("yolo", [])]
    slots = [i for i, layer in enumerate(layers) if isinstance(layer, Yolo)]
    if len(recorded) == len(slots):
        for i, old in zip(slots, recorded):
            new = layers[i]
            if old.classes == new.classes and old.head_anchors == new.head_anchors:  # type: ignore[union-attr]
                layers[i] = old
    net_meta = darknet.get("net") or {}
    net = Net(width=cfg.imgsz, height=cfg.imgsz, extra=dict(net_meta.get("extra") or STOCK_NET))
    return DarknetCfg(net, layers, path="<export>")


def save_darknet(model: YOLOv3Base, cfg_path: str | Path, weights_path: str | Path,
                 meta: dict[str, Any] | None = None) -> None:
    """Writes a yolo3 model as darknet `.cfg` + `.weights` (header from `meta` if recorded).

    A model converted with bn='darknet-cpu' gets its variances back first (on a copy).
    """
    if ((meta or {}).get("darknet") or {}).get("bn") == "darknet-cpu":
        model = copy.deepcopy(model)
        from_cpu_bn(model)
    text = format_cfg(darknet_cfg_for(model, meta))
    header_data = (meta or {}).get("darknet", {}).get("header")
    header = WeightsHeader(**header_data) if header_data else WeightsHeader()
    save_weights(weights_path, model.conv_layers(), header)
    atomic_write(cfg_path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def export_darknet(checkpoint: str | Path, cfg_path: str | Path, weights_path: str | Path,
                   names_path: str | Path | None = None) -> ModelConfig:
    """yolo3 checkpoint → darknet `.cfg` + `.weights`, runnable by darknet; returns its config.

    names_path: also write the class names there, one per line (darknet's `.names`, which
    `convert-darknet CFG WEIGHTS --names` reads back), when the checkpoint has names.
    """
    model, meta = load_model(checkpoint)
    save_darknet(model, cfg_path, weights_path, meta)
    if names_path is not None and model.cfg.class_names:
        text = "".join(f"{name}\n" for name in model.cfg.class_names)
        atomic_write(names_path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return model.cfg
