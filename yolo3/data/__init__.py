"""Data: files → samples → batches (formats, validation, letterbox, augmentation, loading)."""
