"""Write a small, randomly initialised vision-language checkpoint plus a locally trained BPE tokenizer.

    python -m guardstream.engines.safewatch.make_checkpoint --size tiny|mid --out DIR [--family qwen2_5_vl|qwen2_vl]

`tiny` (a few hundred thousand parameters) is for tests and takes seconds; `mid` (~103 M parameters) is for
benchmarks. Nothing is downloaded: the config is built in code and the tokenizer is trained on the policy pack
and the prompt templates. Random weights give meaningless verdicts; the point is exercising the real code path
with a real transformers model of a realistic shape.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from guardstream.engines.safewatch.prompts import SPECIAL_TOKENS, tokenizer_corpus

SIZES: dict[str, dict[str, Any]] = {
    "tiny": {
        "text": {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 3,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "mrope_section": [2, 3, 3],
        },
        "vision": {
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "patch_size": 4,
            "window_size": 16,
            "fullatt_block_indexes": [1],
        },
        "vocab_size": 768,
    },
    "mid": {
        "text": {
            "hidden_size": 768,
            "intermediate_size": 2560,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "num_key_value_heads": 4,
            "mrope_section": [8, 12, 12],
        },
        "vision": {
            "depth": 4,
            "hidden_size": 384,
            "intermediate_size": 1024,
            "num_heads": 6,
            "patch_size": 14,
            "window_size": 112,
            "fullatt_block_indexes": [1, 3],
        },
        "vocab_size": 8192,
    },
}
FAMILIES = ("qwen2_5_vl", "qwen2_vl")
MARKER = "guardstream_checkpoint.json"


def train_tokenizer(vocab_size: int, out: Path) -> Any:
    """Train a byte-level BPE on the policy pack + prompt templates; save `tokenizer.json`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(tokenizer_corpus(), trainer=trainer)
    tokenizer.save(str(out / "tokenizer.json"))
    return tokenizer


def _config(family: str, size: dict[str, Any], tokenizer: Any) -> Any:
    ids = {name: tokenizer.token_to_id(name) for name in SPECIAL_TOKENS}
    vocab = ((tokenizer.get_vocab_size() + 63) // 64) * 64
    text = dict(size["text"])
    mrope = text.pop("mrope_section")
    text.update(
        vocab_size=vocab,
        max_position_embeddings=32768,
        rms_norm_eps=1e-6,
        rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": mrope},
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    vision = dict(size["vision"], spatial_merge_size=2, temporal_patch_size=2, in_channels=3)
    common = dict(
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    if family == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig

        vision.update(out_hidden_size=text["hidden_size"], tokens_per_second=2)
        return Qwen2_5_VLConfig(text_config=text, vision_config=vision, **common)
    from transformers import Qwen2VLConfig

    v2 = {
        "depth": vision["depth"],
        "embed_dim": vision["hidden_size"],
        "hidden_size": text["hidden_size"],
        "num_heads": vision["num_heads"],
        "patch_size": vision["patch_size"],
        "mlp_ratio": 2,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "in_channels": 3,
    }
    return Qwen2VLConfig(text_config=text, vision_config=v2, **common)


def save_processor_files(out: Path, tokenizer: Any, config: Any) -> None:
    """What a Hugging Face release ships beside the weights, written by transformers itself: tokenizer_config.json
    (the trained tokenizer as a fast tokenizer) and preprocessor_config.json (Qwen2-VL image processor geometry)."""
    import transformers
    from transformers import PreTrainedTokenizerFast, Qwen2VLImageProcessor

    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    ).save_pretrained(out)
    vision = config.vision_config
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # "requires torchvision, falling back to PIL": the PIL one is wanted
    try:
        processor = Qwen2VLImageProcessor(
            patch_size=vision.patch_size, merge_size=vision.spatial_merge_size,
            temporal_patch_size=vision.temporal_patch_size,
        )  # fmt: skip
    finally:
        transformers.logging.set_verbosity(verbosity)
    processor.save_pretrained(out)


def make_checkpoint(out: Path, size: str = "tiny", family: str = "qwen2_5_vl", seed: int = 0) -> Path:
    """Create `out` in the Hugging Face layout (config.json, generation_config.json, model.safetensors,
    tokenizer.json + tokenizer_config.json, preprocessor_config.json) plus a marker file; return `out`."""
    import torch
    from transformers import PreTrainedModel, Qwen2_5_VLForConditionalGeneration, Qwen2VLForConditionalGeneration

    if size not in SIZES or family not in FAMILIES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, family one of {FAMILIES}")
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(SIZES[size]["vocab_size"], out)
    config = _config(family, SIZES[size], tokenizer)
    torch.manual_seed(seed)
    cls: type[PreTrainedModel] = (
        Qwen2_5_VLForConditionalGeneration if family == "qwen2_5_vl" else Qwen2VLForConditionalGeneration
    )
    model = cls(config).eval()
    model.save_pretrained(out)
    save_processor_files(out, tokenizer, config)
    params = sum(p.numel() for p in model.parameters())
    (out / MARKER).write_text(json.dumps({"family": family, "size": size, "seed": seed, "parameters": params}))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--family", choices=FAMILIES, default="qwen2_5_vl")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = make_checkpoint(args.out, args.size, args.family, args.seed)
    print(json.dumps({"checkpoint": str(path), **json.loads((path / MARKER).read_text())}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
