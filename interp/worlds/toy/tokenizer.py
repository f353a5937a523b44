"""Word-level tokenizer of the toy worlds: one token per word, built with the `tokenizers` library.

It is saved as tokenizer.json inside a folder and loaded from there as a `PreTrainedTokenizerFast` with a BOS token,
so TransformerLens's to_tokens / to_str_tokens work. (TransformerLens 3.9 reloads a tokenizer from its
name_or_path, so a tokenizer that exists only in memory would crash it: always go through a folder.)
Token ids equal the word's index in the world's vocabulary (`World.words`), the ids the corpus generator writes;
`interp.worlds.world_of_tokenizer` tells from a tokenizer which world it belongs to.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from .. import get_world
from .text import SPECIAL_TOKENS

BOS, PAD, UNK, EOS = SPECIAL_TOKENS


def build_tokenizer(folder: str | Path, world: str) -> PreTrainedTokenizerFast:
    """Write the tokenizer of toy world `world` into `folder` and return it loaded from there."""
    words = get_world(world).words
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token=UNK))
    # split on white space and punctuation, so "park," and "park ," both give [park, ","]
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins word tokens with single spaces
    tok.add_special_tokens([BOS, PAD, UNK, EOS])
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD,
                                   unk_token=UNK, model_max_length=1 << 30)
    fast.save_pretrained(str(folder))
    return load_tokenizer(folder, world)


def load_tokenizer(folder: str | Path, world: str) -> PreTrainedTokenizerFast:
    """Load a tokenizer saved by `build_tokenizer`, checking it still matches this version's vocabulary of `world`."""
    tok = PreTrainedTokenizerFast.from_pretrained(str(folder))
    words = get_world(world).words
    if len(tok) != len(words) or tok.convert_ids_to_tokens(len(words) - 1) != words[-1]:
        raise ValueError(f"tokenizer in {folder} has {len(tok)} tokens but the {world} vocabulary has "
                         f"{len(words)}; rebuild it with interp.worlds.toy.tokenizer.build_tokenizer")
    return tok
