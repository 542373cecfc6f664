"""ftcot's built-in students.

- ``base``: the contract (``TrainConfig``, ``Student``, ``StudentModel``);
- ``tiny``: ``tiny-gpt2``, ``tiny-llama``, ``tiny-t5`` built from a config, with ``tokenizer``'s
  in-process byte-level BPE;
- ``hf``: ``hf:``, ``hf-causal:``, ``hf-seq2seq:`` for Hugging Face models by name or directory;
- ``model``: the two families (decoder, encoder-decoder) both kinds load into;
- ``training``: the training loop and its checkpoints; ``lora``: adapters through peft;
- ``runtime``: device, bf16 autocast and thread count.
"""
