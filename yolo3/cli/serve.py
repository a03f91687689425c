"""`yolo3 serve`: an HTTP API and browser page for a model (SPEC §8.7); see yolo3.serve."""

from __future__ import annotations

import argparse

from yolo3.cli.options import (add_preprocess_argument, fraction, imgsz, nonneg_float, nonneg_int, positive_float,
                               positive_int)
from yolo3.inference.choose import BACKENDS, PRECISIONS
from yolo3.inference.postprocess import NMSConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve a model over HTTP (API, metrics, docs, browser page)")
    p.add_argument("--weights", required=True, help=".safetensors checkpoint, exported .onnx or OpenVINO folder")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    p.add_argument("--port", type=nonneg_int, default=8000, help="TCP port (0 = any free port)")
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="engine; auto = the fastest installed for this file, precision and device")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or N (torch backend)")
    p.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="fp32, bf16, fp16 (CUDA only) or int8 (a quantised OpenVINO export) (default: the export's own, else fp32)")
    p.add_argument("--max-batch", type=positive_int, default=8, help="images per forward pass at most")
    p.add_argument("--max-wait-ms", type=nonneg_float, default=5.0, help="how long a request may wait for others to batch with")
    p.add_argument("--queue-size", type=positive_int, default=64, help="waiting images at most; beyond, 503 + Retry-After")
    p.add_argument("--timeout", type=positive_float, default=30.0, help="per-request limit in seconds (504 beyond)")
    p.add_argument("--max-body-mb", type=positive_float, default=20.0, help="request body cap in MiB (413 beyond)")
    p.add_argument("--api-key", default=None,
                   help="require 'Authorization: Bearer KEY' on /v1/* and /metrics; prefer the environment "
                        "variable YOLO3_API_KEY (a command-line key is visible to other users in `ps`) (default: YOLO3_API_KEY, "
                        "else no key)")
    p.add_argument("--conf", type=fraction, default=0.25, help="default score threshold (a request may override)")
    p.add_argument("--iou", type=fraction, default=0.45, help="default NMS IoU threshold")
    p.add_argument("--max-det", type=positive_int, default=300, help="default detections kept per image")
    p.add_argument("--imgsz", type=imgsz, default=None, help="network size (default: the checkpoint's)")
    p.add_argument("--threads", type=nonneg_int, default=None, help="intra-op threads (default: usable cores)")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow a pickled .pt/.pth (read with weights_only=True); only for files you trust")
    p.add_argument("--classifier", default=None,
                   help="crop classifier from `yolo3 train-classifier`: re-label each detection by its crop "
                   "(default: none, the detector's own classes)")
    add_preprocess_argument(p)
    p.add_argument("--access-log", action="store_true", help="log every request line")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from yolo3.serve import serve  # the web stack loads only for this command

    return serve(args.weights, host=args.host, port=args.port, backend=args.backend, device=args.device,
                 precision=args.precision, max_batch=args.max_batch, max_wait_ms=args.max_wait_ms,
                 queue_size=args.queue_size, timeout_s=args.timeout, max_body_mb=args.max_body_mb,
                 api_key=args.api_key, threads=args.threads, imgsz=args.imgsz,
                 nms=NMSConfig(conf_threshold=args.conf, iou_threshold=args.iou, max_det=args.max_det),
                 trust_pickle=args.trust_pickle, access_log=args.access_log, classifier=args.classifier,
                 preprocess=args.preprocess)
