"""Tiny randomly initialised Hugging Face models and a real byte-level BPE tokenizer, built at test time (nothing is
downloaded): the "your own model" path of every command is tested on these, never on the toy world.

`write_corpus(folder)` writes a small English text corpus; `bpe_tokenizer(folder)` trains a byte-level BPE
tokenizer (GPT-2 style, 512 tokens) on it; `tiny_model(family, folder)` saves a random model of one architecture
family with that tokenizer, as `save_pretrained` writes it (config.json, model.safetensors, tokenizer files).
"""

from __future__ import annotations

import random
from pathlib import Path

VOCAB = 512
WORDS = ("the a an and or but so then when while after before because if although every each some many few "
         "cat dog bird fish horse cow river forest city market garden kitchen school library station bridge "
         "walked ran sang wrote read built painted carried found lost gave took saw heard opened closed "
         "quickly slowly quietly loudly happily sadly carefully red blue green yellow old young small large "
         "Mary John Alice Bob Sarah Tom Emma James Lucy Peter she he they we it her his their our").split()


def write_corpus(folder: str | Path, n_lines: int = 600, seed: int = 0, name: str = "corpus.txt") -> Path:
    """A text file of simple sentences, one document per line."""
    rng = random.Random(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for _ in range(n_lines):
        sentences = []
        for _ in range(rng.randint(2, 5)):
            words = [rng.choice(WORDS) for _ in range(rng.randint(5, 12))]
            sentences.append(" ".join(words).capitalize() + rng.choice([".", "!", "?", ","]))
        lines.append(" ".join(sentences))
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def bpe_tokenizer(folder: str | Path, corpus: Path | None = None):
    """A byte-level BPE tokenizer (GPT-2 pre-tokenisation and decoding, <|endoftext|> as BOS/EOS) trained on the
    corpus, as a transformers fast tokenizer saved in `folder`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    folder = Path(folder)
    corpus = corpus or write_corpus(folder / "text")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train([str(corpus)], trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   unk_token="<|endoftext|>")
    fast.save_pretrained(str(folder / "tokenizer"))
    return fast


def _config(family: str, vocab: int):
    import transformers as T

    small = dict(vocab_size=vocab, bos_token_id=0, eos_token_id=0)
    llama_like = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=128, **small)
    configs = {
        "gpt2": lambda: T.GPT2Config(n_embd=64, n_layer=2, n_head=4, n_positions=128, **small),
        "gpt_neo": lambda: T.GPTNeoConfig(hidden_size=64, num_layers=2, num_heads=4, max_position_embeddings=128,
                                          attention_types=[[["global", "local"], 1]], window_size=32, **small),
        "gptj": lambda: T.GPTJConfig(n_embd=64, n_layer=2, n_head=4, n_positions=128, rotary_dim=8, **small),
        "gpt_neox": lambda: T.GPTNeoXConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                            num_attention_heads=4, max_position_embeddings=128, **small),
        "opt": lambda: T.OPTConfig(hidden_size=64, ffn_dim=128, num_hidden_layers=2, num_attention_heads=4,
                                   max_position_embeddings=128, word_embed_proj_dim=64, pad_token_id=1, **small),
        "bloom": lambda: T.BloomConfig(hidden_size=64, n_layer=2, n_head=4, **small),
        "llama": lambda: T.LlamaConfig(**llama_like),
        "mistral": lambda: T.MistralConfig(**llama_like, sliding_window=None),
        "qwen2": lambda: T.Qwen2Config(**llama_like),
        "qwen3": lambda: T.Qwen3Config(**llama_like, head_dim=16),
        "phi3": lambda: T.Phi3Config(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                     num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128,
                                     original_max_position_embeddings=128, pad_token_id=0, **small),
        "gemma": lambda: T.GemmaConfig(**llama_like, head_dim=16),
        "gemma2": lambda: T.Gemma2Config(**llama_like, head_dim=16, sliding_window=32),
        "gemma3": lambda: T.Gemma3TextConfig(**llama_like, head_dim=16, sliding_window=32),
        "olmo2": lambda: T.Olmo2Config(**{**llama_like, "num_key_value_heads": 4}),  # as the released OLMo 2
    }
    return configs[family]()


FAMILIES = ("gpt2", "gpt_neo", "gptj", "gpt_neox", "opt", "bloom", "llama", "mistral", "qwen2", "qwen3", "phi3",
            "gemma", "gemma2", "gemma3", "olmo2")


def tiny_model(family: str, folder: str | Path, tokenizer=None, seed: int = 0) -> Path:
    """Save a random tiny model of `family` with a byte-level BPE tokenizer into `folder`; returns the folder."""
    import torch
    from transformers import AutoModelForCausalLM

    folder = Path(folder)
    tokenizer = tokenizer if tokenizer is not None else bpe_tokenizer(folder.parent / f"{folder.name}-tok")
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(_config(family, len(tokenizer)))
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def tiny_gguf(path: Path, arch: str = "llama") -> Path:
    """A GGUF file of architecture `arch` holding one 4x4 tensor and no tokenizer: transformers cannot convert it
    (an unsupported architecture, or a supported one without its metadata)."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_block_count(1)
    writer.add_tensor("x", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
