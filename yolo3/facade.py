"""`YOLO`: one object for the whole workflow, for people coming from Ultralytics.

    from yolo3 import YOLO

    model = YOLO("yolov3-tiny", width=0.5)             # fresh model (or "best.safetensors",
                                                       # "model.onnx", "yolov3.cfg" + weights=...)
    result = model.train(data="data.yaml", epochs=30, imgsz=320, batch_size=8)
    print(result)                                      # run folder, best epoch, fitness
    metrics = model.val(data="data.yaml")              # now the trained best.safetensors
    print(metrics.metrics["mAP@0.5"])
    dets = model.predict("street.jpg", conf=0.3)[0]    # one Detections per image
    dets.save("street_annotated.jpg"); print(dets.to_dict()["boxes"])
    model.export(format="onnx")                        # → runs/train/weights/best.onnx

The facade is thin: every method parses its keywords with the very sub-parser of the
matching `yolo3` command (so keyword names are the CLI flags with `_` for `-`, and
numbers are checked by the same validators) and then calls the function that command
calls: `yolo3.train.train`, `yolo3.eval.val.val`, `Detector`,
`yolo3.export.from_checkpoint.export_checkpoint`, `yolo3.models.summary.measure`.
Bad keywords raise ValueError with the CLI's message.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from yolo3.config import ModelConfig

TORCH_SUFFIXES = (".safetensors", ".pt", ".pth")
EXPORTED = {"onnx": "an exported .onnx", "openvino": "an OpenVINO export"}
"""Model kinds that are inference files: predict, val and info run them; train and export
need the checkpoint they came from."""


class YOLO:
    """A model plus the four jobs: train, val, predict, export (and `info`).

    Example (10 lines)::

        from yolo3 import YOLO
        model = YOLO("yolov3-tiny", width=0.5)          # a fresh, untrained model
        result = model.train(data="data.yaml", epochs=30, imgsz=320)
        print(result)                                   # TrainResult(run_dir=…, best_epoch=…)
        metrics = model.val(data="data.yaml")           # evaluates best.safetensors
        print(metrics.metrics["mAP@0.5:0.95"])
        dets = model.predict("street.jpg", conf=0.3)[0]
        dets.save("street_boxes.jpg")                   # annotated copy
        print(dets.to_dict()["boxes"])                  # (N, 4) xyxy pixels
        model.export(format="onnx")                     # best.onnx next to the weights

    Args:
        model: a registered architecture (`yolov3`, `yolov3-spp`, `yolov3-tiny`), a
            yolo3 checkpoint (`.safetensors`; a pickled `.pt` only with trust_pickle),
            an exported `.onnx` or OpenVINO model (its folder or `model.xml`; predict, val
            and info only) or a darknet `.cfg`.
        classes: a fresh model's classes: a count or a list of names (training always
            takes them from the dataset).
        width, depth, imgsz: a fresh model's channel / block multipliers and input size
            (a file brings its own; predict/val/export take imgsz= per call).
        weights: the darknet `.weights` for a `.cfg`.
        trust_pickle: allow a pickled checkpoint you trust.
    """

    def __init__(
        self,
        model: str | Path = "yolov3-tiny",
        *,
        classes: int | Sequence[str] | None = None,
        width: float | None = None,
        depth: float | None = None,
        imgsz: int | None = None,
        weights: str | Path | None = None,
        trust_pickle: bool = False,
    ) -> None:
        from yolo3.models import list_models

        self.trust_pickle = trust_pickle
        self.model: Any = None  # the torch model (None for an export)
        self.metadata: dict[str, Any] = {}
        self.path: Path | None = None  # the file the weights live in (None: in memory only)
        self._tmp: tempfile.TemporaryDirectory | None = None
        text = str(model)
        fresh = {"classes": classes, "width": width, "depth": depth, "imgsz": imgsz}
        # the fresh model's sizes given here: train passes only these, so a recipe's own win otherwise
        self._given_sizes = {k: v for k, v in fresh.items() if v is not None and k != "classes"}
        if text in list_models():
            self.kind = "arch"
            self._build_fresh(text, classes, width, depth, imgsz)
            return
        given = [k for k, v in fresh.items() if v is not None]
        if given:
            raise ValueError(f"YOLO({text!r}): {', '.join(given)} apply to a fresh model only "
                             f"(one of {', '.join(list_models())}); a file brings its own")
        path = Path(text)
        suffix = path.suffix.lower()
        if suffix == ".cfg":
            self.kind = "darknet"
            self._load_darknet(path, weights)
        elif weights is not None:
            raise ValueError(f"YOLO({text!r}, weights=…): weights= is for a darknet .cfg")
        elif suffix == ".onnx":
            self.kind = "onnx"
            self._load_onnx(path)
        elif suffix == ".xml" or path.is_dir():
            self.kind = "openvino"
            self._load_openvino(path)
        elif suffix in TORCH_SUFFIXES or path.is_file():
            self.kind = "checkpoint"
            self._load_checkpoint(path)
        else:
            raise ValueError(f"YOLO({text!r}): not a registered model ({', '.join(list_models())}) and no such "
                             f"file; give a .safetensors checkpoint, an .onnx, an OpenVINO export or a darknet .cfg")

    # -- loading ---------------------------------------------------------------------
    def _build_fresh(self, arch: str, classes: Any, width: Any, depth: Any, imgsz: Any) -> None:
        from yolo3.cli.options import imgsz as check_imgsz, positive_float
        from yolo3.models import create_model

        names = None if classes is None or isinstance(classes, int) else [str(c) for c in classes]
        overrides: dict[str, Any] = {"num_classes": len(names) if names else (classes or 80), "class_names": names}
        for key, value, check in (("width", width, positive_float), ("depth", depth, positive_float),
                                  ("imgsz", imgsz, check_imgsz)):
            if value is not None:
                overrides[key] = _checked(key, value, check)
        self.model = create_model(arch, **overrides).eval()
        self.cfg: ModelConfig = self.model.cfg

    def _load_checkpoint(self, path: Path) -> None:
        from yolo3.io.checkpoint import load_model

        self.model, self.metadata = load_model(path, trust_pickle=self.trust_pickle)
        self.cfg = self.model.cfg
        self.path = path

    def _load_darknet(self, cfg_path: Path, weights: str | Path | None) -> None:
        from yolo3.darknet import load_darknet

        self.model, self.metadata = load_darknet(cfg_path, weights)
        self.cfg = self.model.cfg

    def _load_onnx(self, path: Path) -> None:
        from yolo3.io.checkpoint import CheckpointError, model_config_from_metadata, read_onnx_metadata

        if not path.is_file():
            raise CheckpointError(f"{path}: no such ONNX file")
        self.metadata = read_onnx_metadata(path)
        self.cfg = model_config_from_metadata(self.metadata, path)
        self.path = path

    def _load_openvino(self, path: Path) -> None:
        from yolo3.inference.openvino_backend import read_openvino
        from yolo3.io.checkpoint import model_config_from_metadata

        _, self.metadata = read_openvino(path)
        self.cfg = model_config_from_metadata(self.metadata, path)
        self.path = path

    @property
    def names(self) -> list[str]:
        """Class names, indexed by class id."""
        return list(self.cfg.names)

    def __repr__(self) -> str:
        where = f", {self.path}" if self.path else ""
        return (f"YOLO({self.cfg.arch}, {self.cfg.num_classes} classes, width {self.cfg.width:g}, "
                f"depth {self.cfg.depth:g}, imgsz {self.cfg.imgsz}{where})")

    def weights_file(self) -> Path:
        """The checkpoint file the model lives in; an in-memory model (fresh or from
        darknet) is saved once to a temporary .safetensors that lives as long as this
        object, so val and export read what predict runs."""
        if self.kind in EXPORTED:
            raise ValueError(f"{self.path}: {EXPORTED[self.kind]} can predict, val and info only; "
                             "train and export need the .safetensors checkpoint it came from")
        if self.path is None:
            from yolo3.io.checkpoint import save_model

            self._tmp = tempfile.TemporaryDirectory(prefix="yolo3-")
            self.path = Path(self._tmp.name) / f"{self.cfg.arch}.safetensors"
            save_model(self.path, self.model, **self.metadata)
        return self.path

    def model_file(self) -> Path:
        """The file predict and val run: the export itself, else `weights_file()`."""
        return self.path if self.kind in EXPORTED and self.path is not None else self.weights_file()

    # -- the four jobs -----------------------------------------------------------------
    def train(self, data: str | Path | None = None, epochs: int | None = None, **overrides: Any) -> Any:
        """Trains as `yolo3 train` does (keywords = its flags, e.g. imgsz=320,
        batch_size=8, lr0=0.01, name="exp"); a checkpoint/darknet model is the starting
        point (--weights), a fresh one its arch and the width, depth and imgsz given to
        YOLO() (a `config=` recipe sets the others). Afterwards this
        object holds the run's best.safetensors. Returns the TrainResult."""
        from yolo3.cli.train import resume_changes_from_args, train_config_from_args
        from yolo3.train import train as run_training

        overrides = {"data": data, "epochs": epochs, **overrides}
        if overrides.get("resume"):  # as `yolo3 train --resume`: the run's own model and config, the few
            args = parse_command("train", [], overrides)  # changeable options applied, the others refused
            result = run_training(train_config_from_args(args), resume_changes=resume_changes_from_args(args))
            return self._trained(result)
        base: dict[str, Any] = {"model": self.cfg.arch}
        if self.kind == "arch":  # the sizes given to YOLO(); the others come from config= or the defaults
            base.update(self._given_sizes)
        else:  # the starting point's own sizes
            base.update(weights=str(self.weights_file()), width=self.cfg.width, depth=self.cfg.depth,
                        imgsz=self.cfg.imgsz)
        args = parse_command("train", [], {**base, **{k: v for k, v in overrides.items() if v is not None}})
        return self._trained(run_training(train_config_from_args(args)))

    def _trained(self, result: Any) -> Any:
        """Takes the run's best.safetensors as this object's model; returns `result`."""
        if result.best.is_file():
            self.kind = "checkpoint"
            self._load_checkpoint(result.best)
        return result

    def val(self, data: str | Path, **overrides: Any) -> Any:
        """Evaluates as `yolo3 val` does (split, imgsz, batch_size, conf, iou, max_det,
        out, no_plots, save_json, save_thresholds, in_place, backend, precision, device,
        threads, preprocess, tta, tta_scales); returns the EvalResult (`.metrics`, per-class rows) and
        sets `last_run_dir` to the folder it wrote."""
        from yolo3.eval.val import val as run_val
        from yolo3.inference.postprocess import NMSConfig
        from yolo3.cli.options import tta_config

        args = parse_command("val", ["--weights", str(self.model_file()), "--data", str(data)], overrides)
        nms = NMSConfig(conf_threshold=args.conf, iou_threshold=args.iou, max_det=args.max_det)
        result, self.last_run_dir = run_val(args.weights, args.data, args.split, args.imgsz, args.batch_size, nms,
                                            args.out, not args.no_plots, args.save_thresholds,
                                            in_place=args.in_place, save_json=args.save_json, backend=args.backend,
                                            precision=args.precision, device=args.device, threads=args.threads,
                                            preprocess=args.preprocess, tta=tta_config(args))
        return result

    def predict(self, source: Any, save: bool = False, **controls: Any) -> Any:
        """Detections as `yolo3 detect` finds them (conf, iou, max_det, nms, classes, roi,
        thresholds, tta, tta_scales, imgsz, batch_size, precision, threads, backend, device, preprocess,
        classifier; with save=True also out, no_images, no_txt, no_json).

        source: a path, folder, glob or video; a numpy RGB uint8 array; a PIL image; or
        a list of these. Returns one `Detections` per image (per frame of a video).
        With save=True it runs the `detect` command's writer instead (annotated images,
        labels/, predictions.json in a new runs/detect folder, or `out=`) and returns its
        DetectSummary.
        """
        from yolo3.cli.options import tta_config
        from yolo3.inference.run import detect_sources
        from yolo3.io.runs import numbered_out, release_if_empty
        from yolo3.io.text import parse_json_text

        # a list / dict of thresholds and polygons / a mask array as ROI go to the Detector as they are
        given = {k: controls.pop(k) for k in ("thresholds", "roi") if not isinstance(controls.get(k, ""), str)}
        args = parse_command("detect", ["_", "--weights", "_"], controls)
        detector = self._detector(args)
        thresholds = given.get("thresholds", args.thresholds)
        roi = given.get("roi", args.roi)
        if isinstance(roi, str) and roi.lstrip().startswith("["):
            roi = parse_json_text(roi, "roi", "polygons '[[[x,y],...], ...]' in original pixels")
        items = list(source) if isinstance(source, (list, tuple)) else [source]
        # a webcam index as an int, as `yolo3 detect 0` takes it
        items = [str(i) if isinstance(i, int) and not isinstance(i, bool) and i >= 0 else i for i in items]
        if save:
            for i, item in enumerate(items):
                if not isinstance(item, (str, Path)):
                    raise ValueError(f"save=True writes what `yolo3 detect` writes, for paths, folders, globs, videos "
                                     f"and URLs; input {i} is a {type(item).__name__}; call predict() without save "
                                     "and dets.save(path) for arrays and PIL images")
        tta = tta_config(args)
        if save:
            out = numbered_out(args.out)
            try:
                return detect_sources(detector, items, out, classes=args.classes, roi=roi, thresholds=thresholds,
                                      tta=tta, save_images=not args.no_images, save_txt=not args.no_txt,
                                      save_json=not args.no_json, recursive=args.recursive)
            except BaseException:
                release_if_empty(out)
                raise
        return detect_items(detector, items, classes=args.classes, roi=roi, thresholds=thresholds, tta=tta,
                            recursive=args.recursive)

    def _detector(self, args: argparse.Namespace) -> Any:
        from yolo3.inference.backends import TorchBackend
        from yolo3.inference.detector import Detector
        from yolo3.inference.device import resolve_device
        from yolo3.inference.fast import configure_threads
        from yolo3.inference.postprocess import NMSConfig

        nms = NMSConfig(conf_threshold=args.conf, iou_threshold=args.iou, max_det=args.max_det, method=args.nms)
        imgsz = args.imgsz or self.cfg.imgsz
        on_file = args.backend not in ("auto", "torch") or args.precision == "int8"
        if self.kind in EXPORTED or self.model is None or on_file:
            path = self.model_file()
            return Detector.load(path, args.device, args.precision, self.trust_pickle, threads=args.threads,
                                 imgsz=imgsz, nms=nms, batch_size=args.batch_size, backend=args.backend,
                                 preprocess=args.preprocess, classifier=args.classifier)
        # a model held in memory runs as it is on torch (auto would first convert it for OpenVINO:
        # ask for backend="openvino", or export once, for that)
        configure_threads(args.threads)
        detector = Detector(TorchBackend(self.model, args.precision or "fp32", device=str(resolve_device(args.device))),
                            self.names, imgsz, self.metadata, nms, args.batch_size, args.preprocess, args.classifier)
        detector.source = str(self.path or self.cfg.arch)
        return detector

    def export(self, format: str = "onnx", **overrides: Any) -> Path:  # noqa: A002 - the CLI flag's name
        """Exports as `yolo3 export` does (format, out, imgsz, opset, precision, data, calib_images,
        max_drop, accuracy_aware, device); returns the file."""
        from yolo3.cli.export import quantize_config
        from yolo3.export.from_checkpoint import export_checkpoint

        args = parse_command("export", ["--weights", str(self.weights_file()), "--format", format], overrides)
        return export_checkpoint(args.weights, args.format, args.out, args.imgsz or self.cfg.imgsz, args.opset,
                                 self.trust_pickle, args.precision, args.device, quantize_config(args), log=print)

    def info(self, imgsz: int | None = None) -> Any:
        """Layers, parameters and GFLOPs at `imgsz` (default the model's), as `yolo3 info`
        prints them: `print(model.info().table())`."""
        from yolo3.models import build_model
        from yolo3.models.summary import measure
        from yolo3.cli.options import imgsz as check_imgsz

        size = _checked("imgsz", imgsz, check_imgsz) if imgsz is not None else self.cfg.imgsz
        net = self.model if self.model is not None else build_model(self.cfg)  # an export: same architecture
        return measure(net, size, self.cfg.arch)


def detect_items(detector: Any, items: list[Any], classes: Any = None, roi: Any = None, thresholds: Any = None,
                 tta: Any = None, recursive: bool = False) -> list[Any]:
    """Detections for a mixed list of inputs: paths, folders and globs expand as for
    `yolo3 detect` (videos give one Detections per frame); arrays and PIL images pass."""
    from yolo3.inference.preprocess import load_input
    from yolo3.inference.sources import expand_sources, open_video, read_frames, read_source_image

    results: list[Any] = []
    pending: list[tuple[Any, str | None]] = []  # (input, source label for a URL image)

    def flush() -> None:
        if pending:
            found = detector([item for item, _ in pending], classes=classes, roi=roi, thresholds=thresholds, tta=tta)
            for i, ((item, label), dets) in enumerate(zip(pending, found)):
                if not isinstance(item, (str, Path)):  # keep arrays / PIL images for dets.plot()
                    dets.image = load_input(item, i)[0]
                if label:
                    dets.source = label
            results.extend(found)
            pending.clear()

    for item in items:
        if not isinstance(item, (str, Path)):
            pending.append((item, None))
            continue
        for f in expand_sources([item], recursive):
            if f.kind == "image":
                pending.append((read_source_image(f), f.url) if f.url else (str(f.path), None))
                continue
            flush()
            capture, _ = open_video(f.url or f.path)
            chunk: list[Any] = []
            done = 0
            for frame in read_frames(capture):  # a live stream runs until it ends or Ctrl-C
                chunk.append(frame)
                if len(chunk) == detector.batch_size:
                    results.extend(_frames(detector, chunk, str(f.url or f.path), done, classes, roi, thresholds, tta))
                    done, chunk = done + len(chunk), []
            results.extend(_frames(detector, chunk, str(f.url or f.path), done, classes, roi, thresholds, tta))
    flush()
    return results


def _frames(detector: Any, chunk: list[Any], name: str, start: int, classes: Any, roi: Any, thresholds: Any,
            tta: Any) -> list[Any]:
    found = detector(chunk, classes=classes, roi=roi, thresholds=thresholds, tta=tta) if chunk else []
    for i, (frame, dets) in enumerate(zip(chunk, found)):
        dets.source, dets.image = f"{name}#{start + i}", frame
    return found


def parse_command(command: str, fixed: list[str], keywords: dict[str, Any]) -> argparse.Namespace:
    """Keywords → the `yolo3 COMMAND` sub-parser's Namespace (`batch_size=8` is
    `--batch-size 8`; True switches a flag on; lists repeat values). Unknown keywords
    and bad values raise ValueError with the CLI's message."""
    from yolo3.cli import build_parser

    parser = _subparser(build_parser(), command)
    known = {opt: action for action in parser._actions for opt in action.option_strings}
    argv = list(fixed)
    for key, value in keywords.items():
        flag = "--" + key.replace("_", "-")
        action = known.get(flag)
        if action is None:
            options = sorted(o[2:].replace("-", "_") for o in known if o.startswith("--") and o != "--help")
            raise ValueError(f"{command}(): unknown keyword {key!r}; it takes {', '.join(options)}")
        if value is None:
            continue
        if action.nargs == 0:  # a switch
            if value:
                argv.append(flag)
            continue
        values = value if isinstance(value, (list, tuple)) and action.nargs in ("+", "*") else [value]
        argv += [flag, *(str(v) for v in values)]

    def fail(message: str) -> None:
        raise ValueError(f"{parser.prog}: {message}")

    parser.error = fail  # type: ignore[method-assign]
    return parser.parse_args(argv)


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[command]


def _checked(key: str, value: Any, check: Any) -> Any:
    try:
        return check(value)
    except argparse.ArgumentTypeError as err:
        raise ValueError(f"{key}={value!r}: {err}") from None


__all__ = ["YOLO", "detect_items", "parse_command"]
