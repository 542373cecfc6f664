"""A byte-level BPE trained in-process on the run's own text, for students built from a config.

- Digits are split one by one, so numbers and answers tokenize the same way everywhere.
- The markers of the training formats (``###``, ``-->``, ``END``) are single tokens whatever the
  corpus holds (``END`` only as a whole word).
- Byte-level means any text encodes (no unknown token) and decodes back exactly.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import (
    AddedToken,
    Tokenizer,
    decoders,
    models,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import PreTrainedTokenizerFast

PAD, EOS, BOS = "<pad>", "</s>", "<s>"
MARKERS = ("###", "-->", "END")
MIN_VOCAB = 256 + 3 + len(MARKERS)


def train_bpe(corpus: Iterable[str], vocab_size: int, *, bos: bool) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE of at most ``vocab_size`` tokens on ``corpus``.

    ``bos=True`` (decoders) starts every encoded text with ``<s>``; otherwise (encoder-decoders)
    the encoder input ends with ``</s>``, as T5 does."""
    vocab_size = max(vocab_size, MIN_VOCAB)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(MARKERS),
        special_tokens=[PAD, EOS, BOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=2,
        show_progress=False,
    )
    tok.train_from_iterator((text for text in corpus if text), trainer)
    tok.add_tokens([AddedToken(m, single_word=(m == "END")) for m in MARKERS])
    if bos:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{BOS} $A", special_tokens=[(BOS, tok.token_to_id(BOS))]
        )
    else:
        tok.post_processor = processors.TemplateProcessing(
            single=f"$A {EOS}", special_tokens=[(EOS, tok.token_to_id(EOS))]
        )
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD)
