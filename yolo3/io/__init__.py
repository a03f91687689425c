"""Files of models: safetensors checkpoints with JSON metadata (never pickle)."""
