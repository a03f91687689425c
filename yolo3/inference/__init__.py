"""Inference: raw outputs → detections (post-processing, results, the Detector API)."""
