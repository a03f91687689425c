"""Initial weights for a run (`TrainConfig.weights`): transfer learning the darknet way.

Three kinds of file start a run:
- a yolo3 checkpoint (safetensors; a training state serves its `model.*` weights);
- a darknet `.weights` file for the run's model (`--model`/`--cfg`), with any class count;
- a darknet partial file (`darknet53.conv.74`, `yolov3-tiny.conv.15`) that stops after
  the first N conv layers on purpose.
Every tensor that fits the run's model (same name and shape) is loaded; the others keep
their fresh initialisation (Kaiming convs, prior-biased heads), and the note says which
and why. A checkpoint of another class count transfers all but the heads; one whose
layers outside the heads do not fit (another architecture, width or depth) is refused.
"""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import torch
from torch import nn

from yolo3.config import ConfigError, ModelConfig
from yolo3.darknet.weights import count_floats, layers_in_file, load_partial_weights, load_weights, read_header
from yolo3.io.checkpoint import load_checkpoint, model_config_from_metadata
from yolo3.models import build_model
from yolo3.models.registry import model_spec


@dataclasses.dataclass
class InitWeights:
    """What a weights file gives a run.

    Attributes:
        tensors: state-dict entries (name → tensor) that fit the run's model exactly.
        fresh: names of the model's state-dict entries that keep their fresh init.
        note: one line for the training log: what was loaded, what starts fresh, why.
        anchors: the source model's anchors when its heads are loaded (they were trained
            for them), else None.
    """

    tensors: dict[str, torch.Tensor]
    fresh: list[str]
    note: str
    anchors: list[list[list[float]]] | None = None

    @property
    def heads_loaded(self) -> bool:
        """True when the detection heads come from the file (then anchors must stay)."""
        return any(k.startswith("heads.") for k in self.tensors)


def is_darknet_weights(path: str | Path) -> bool:
    """True for a darknet `.weights` file (header of three small int32 then `seen`),
    false for safetensors, zip and pickle files."""
    with open(path, "rb") as f:
        head = f.read(20)
    if len(head) < 16 or head[:2] == b"PK" or head[:1] == b"\x80":
        return False
    (size,) = struct.unpack("<Q", head[:8])
    if len(head) > 8 and head[8:9] == b"{" and 0 < size < 100 * 1024 * 1024:  # safetensors
        return False
    major, minor, revision = struct.unpack("<iii", head[:12])
    return 0 <= major < 1000 and 0 <= minor < 1000 and 0 <= revision < 10**7


def _summary(names: list[str], limit: int = 4) -> str:
    """Layer names of state-dict entries, first few: 'heads.0, heads.1, lateral16'."""
    layers = (n.rsplit(".", 1)[0] for n in names)
    modules = list(dict.fromkeys(m.rsplit(".", 1)[0] if m.endswith((".conv", ".bn")) else m for m in layers))
    more = f" and {len(modules) - limit} more" if len(modules) > limit else ""
    return ", ".join(modules[:limit]) + more


def _describe(cfg: ModelConfig) -> str:
    return f"{cfg.arch} width {cfg.width:g} depth {cfg.depth:g}"


def _match(source: dict[str, torch.Tensor], model: nn.Module) -> tuple[dict[str, torch.Tensor], list[str]]:
    """(entries of `source` whose name and shape fit `model`, names of `model` left fresh)."""
    own = model.state_dict()
    matched = {k: v for k, v in source.items() if k in own and tuple(own[k].shape) == tuple(v.shape)}
    return matched, [k for k in own if k not in matched]


def _skeleton(cfg: ModelConfig) -> nn.Module:
    """The model without storage (names and shapes only)."""
    with torch.device("meta"):
        return build_model(cfg)


def _from_checkpoint(path: Path, cfg: ModelConfig) -> InitWeights:
    tensors, meta = load_checkpoint(path)
    if any(k.startswith("model.") for k in tensors):  # training states: model.* are the served weights
        tensors = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    src = model_config_from_metadata(meta, path) if isinstance(meta.get("model"), dict) else None
    matched, fresh = _match(tensors, _skeleton(cfg))
    if not matched:
        raise ConfigError(f"{path}: no tensor fits the {_describe(cfg)} model of this run by name and shape; "
                          "wrong file, or pass the checkpoint's --model/--width/--depth")
    body = [k for k in fresh if not k.startswith("heads.")]
    if body:
        was = f" (the checkpoint is {_describe(src)})" if src is not None else ""
        raise ConfigError(f"{path}: {len(body)} tensors outside the heads do not fit the {_describe(cfg)} model of "
                          f"this run{was}, e.g. {_summary(body, 2)}; pass --model/--width/--depth matching it")
    classes = f"{src.num_classes} classes" if src is not None else "unknown classes"
    note = f"weights: {path} (yolo3 checkpoint, {classes}): {len(matched)}/{len(matched) + len(fresh)} tensors loaded"
    if fresh:
        note += f"; re-initialised for {cfg.num_classes} classes: {_summary(fresh)}"
    anchors = None
    if src is not None and not fresh:
        anchors = src.anchors if src.anchors is not None else model_spec(src.arch).default_anchors
    return InitWeights(matched, fresh, note, anchors)


def _conv_state_names(model: nn.Module, layers: list[nn.Module]) -> list[str]:
    """State-dict names of the tensors of `layers` (modules of `model`)."""
    where = {id(m): name for name, m in model.named_modules()}
    prefixes = tuple(where[id(layer)] + "." for layer in layers)
    return [k for k in model.state_dict() if k.startswith(prefixes)]


def _from_darknet(path: Path, cfg: ModelConfig) -> InitWeights:
    model = build_model(cfg)
    layers = model.conv_layers()
    with open(path, "rb") as f:
        data_floats = (path.stat().st_size - read_header(f.read(20), str(path)).nbytes) // 4
    total = count_floats(layers)
    what = _describe(cfg)
    if data_floats == total:  # the whole model, same class count
        load_weights(path, layers)
        state = model.state_dict()
        return InitWeights(dict(state), [], f"weights: {path} (darknet, {cfg.num_classes} classes): all "
                           f"{len(layers)} conv layers of {what} loaded")
    if data_floats < total:
        try:
            n = layers_in_file(path, layers)
        except ValueError:
            n = -1
        if n == 0:
            raise ConfigError(f"{path}: darknet weights file with a header and no weights")
        if n > 0:
            load_partial_weights(path, layers)
            names = _conv_state_names(model, layers[:n])
            state = model.state_dict()
            fresh = [k for k in state if k not in set(names)]
            return InitWeights({k: state[k] for k in names}, fresh,
                               f"weights: {path} (darknet partial file): the first {n} of {len(layers)} conv layers "
                               f"of {what} loaded; the other {len(layers) - n} start fresh ({_summary(fresh)})")
    # A complete file for another class count: only the heads' size differs, linearly in C.
    one_more = dataclasses.replace(cfg, num_classes=cfg.num_classes + 1, class_names=None)  # the run's names don't fit it
    per_class = count_floats(_skeleton(one_more).conv_layers()) - total
    extra, rest = divmod(data_floats - total, per_class)
    classes = cfg.num_classes + extra
    if rest or classes < 1:
        layers_in_file(path, layers)  # raises, saying where the file ends against this model's layers
        raise ConfigError(f"{path}: does not fit the {what} model of this run")  # pragma: no cover - raised above
    other = build_model(dataclasses.replace(cfg, num_classes=classes, class_names=None))
    load_weights(path, other.conv_layers())
    matched, fresh = _match(other.state_dict(), model)
    return InitWeights(matched, fresh, f"weights: {path} (darknet, {classes} classes): {len(matched)}/"
                       f"{len(matched) + len(fresh)} tensors of {what} loaded; re-initialised for {cfg.num_classes} "
                       f"classes: {_summary(fresh)}")


def read_init_weights(path: str | Path, cfg: ModelConfig) -> InitWeights:
    """The tensors `path` gives a model built from `cfg` (see the module docstring).

    Raises ConfigError / CheckpointError / DarknetWeightsError naming the file when it
    cannot start this model (missing, another architecture, a truncated file).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such weights file (a yolo3 checkpoint or darknet .weights)")
    with torch.random.fork_rng(devices=[]):  # building scratch models must not move the run's seeded init
        if is_darknet_weights(path):
            return _from_darknet(path, cfg)
        return _from_checkpoint(path, cfg)
