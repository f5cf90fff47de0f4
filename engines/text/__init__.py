"""Building blocks of the on-screen-text + metadata guard: OCR with cross-frame dedup, MiniLM embeddings,
per-policy calibration, and the generated labelled set the calibration is fitted on."""
