"""The text guard's training corpus: phrase tables written for it (`pairs_*`, `neutral`) and `build`, which writes
them as the training manifest `engines/text/data/train.jsonl` (`python -m guardstream.engines.text.corpus.build`)."""
