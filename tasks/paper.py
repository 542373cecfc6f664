"""What the built-in dataset tasks share from the paper's release: its split files (where they
are and their checksums) and its rendering of answer choices."""

from __future__ import annotations

from typing import Any

from ftcot.api import REASONING_TEACHER, DatasetTask

SPLIT_SHA256 = {
    "addsub__default": "1a6f70a39554084978a44439db0b661b039ce4dd2c09572d2ff9f44f5ef668d0",
    "aqua__default": "8f6a271a99d34bc1fdf062672088eb17f7f782d86c60d9a709f06b6b8144ff6d",
    "coin_flip__default": "a5f7ffe4a1a1e0181cbd9d00259d34f980c0073efe8a3ed25f69433cfb74a3a4",
    "commonsense_qa__default": "4cec2867bc6bc201eaa5fc96844870d85356f32b4fa652c75b8b5e42b9fedc76",
    "date_understanding__default": "5fbfdd1f0db941dce6accd7f43316eda2a2254f3a80f9a3a045f5a19bfb04578",
    "date_understanding__template": "9b4508734ffc2ae908615e3f9f6ca3c9e27f44e4b5e714d220bd7152ddd39d89",
    "gsm8k__default": "cf0f484fcaa270ff33f4ce00bff3f7e1f7f30b3e3bc76d0abcb74c22a6e9a6e0",
    "last_letter_concatenation__default": "a5f7ffe4a1a1e0181cbd9d00259d34f980c0073efe8a3ed25f69433cfb74a3a4",
    "multiarith__default": "f2f47aeb18026cb3d1909b38b8828693aeaf624af3282d8021dbee32008a1409",
    "multiarith__template": "188abcfb1358424791e2d9c8d622ad10356283405fab11e1a58fa374cd9a48f4",
    "single_eq__default": "d46feb082615045ea0909c5ed062ef85f29ba95223cbca39e0bfbb1ad1b5e1b7",
    "strategy_qa__default": "0857d069a693a83c20466971b7e522b3c90c3258146c9b9461df98e4d2468de1",
    "svamp__default": "fae6cc3a5c50952da78b66991182be507c8585e6a59954e03bd997488608ab1f",
    "tracking_shuffled_objects__default": "6f2a4637d6e0692297e5eaa66bf53518445e1fbae1d94f28daae0040b7a1156a",
}


class PaperDataset(DatasetTask):
    """A dataset task with the paper's split files (``{name}__{split}.json``, checksummed)."""

    split_url = f"{REASONING_TEACHER}/split"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name and "split_sha256" not in cls.__dict__:
            cls.split_sha256 = {
                split: SPLIT_SHA256[f"{cls.name}__{split}"]
                for split in cls.split_names if f"{cls.name}__{split}" in SPLIT_SHA256
            }


def render_choices(question: str, choices: list[str]) -> str:
    """The paper's rendering: ``<q> Answer choices: (A) c1, (B) c2, ... .``"""
    listed = ", ".join(f"({chr(65 + i)}) {c.strip()}" for i, c in enumerate(choices))
    return f"{question} Answer choices: {listed}."
