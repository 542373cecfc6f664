"""The paper's formats for Fine-tune-CoT, vanilla fine-tuning and the prompting baselines."""

from __future__ import annotations

import pytest

from ftcot import formatting as fmt
from ftcot.errors import UserError

Q = "  Alice, Bob swap. What does Bob hold? Answer choices: (A) ball (B) hat "
R = " Alice and Bob swap: Alice B, Bob A. Bob has A. "


def test_fine_tune_cot_decoder():
    pair = fmt.cot_pair(Q, R, " A ", encoder_decoder=False)
    assert pair.input == "Alice, Bob swap. What does Bob hold? Answer choices: (A) ball (B) hat ###"
    assert pair.target == " Alice and Bob swap: Alice B, Bob A. Bob has A. --> A END"


def test_fine_tune_cot_encoder_decoder():
    pair = fmt.cot_pair(Q, R, "A", encoder_decoder=True)
    assert pair.input == "Alice, Bob swap. What does Bob hold? Answer choices: (A) ball (B) hat"
    assert pair.target == "Alice and Bob swap: Alice B, Bob A. Bob has A. --> A"


def test_vanilla():
    assert fmt.vanilla_pair("2+2?", "4", encoder_decoder=False) == fmt.Pair("2+2? ###", " 4 END")
    assert fmt.vanilla_pair("2+2?", "4", encoder_decoder=True) == fmt.Pair("2+2?", "4")


def test_evaluation_prompt_is_the_training_input():
    for ed in (False, True):
        assert fmt.fine_tuned_prompt(Q, ed) == fmt.cot_pair(Q, R, "A", ed).input == fmt.vanilla_pair(Q, "A", ed).input


def test_baseline_prompts():
    assert fmt.zero_shot_prompt("2+2?", False) == "Q: 2+2?\n\nA:"
    assert fmt.zero_shot_prompt("2+2?", True) == "question: 2+2?"
    step1 = fmt.zero_shot_cot_prompt("2+2?")
    assert step1 == "Q: 2+2?\nA: Let's think step by step."
    assert fmt.zero_shot_cot_answer_prompt(step1, " Two and two.") == (
        "Q: 2+2?\nA: Let's think step by step. Two and two.\nTherefore, the answer is")
    assert fmt.few_shot_cot_prompt("Q: 1+1?\nA: One and one. The answer is 2.\n\n", "2+2?") == (
        "Q: 1+1?\nA: One and one. The answer is 2.\n\nQ: 2+2?\nA:")


def test_outputs_are_cut_at_the_stop_marker():
    assert fmt.cut_at_stop(" r --> A END junk END") == "r --> A"
    assert fmt.split_cot_output(" Bob has C. --> C END Alice") == ("Bob has C.", "C")
    assert fmt.split_cot_output("no arrow here") == ("no arrow here", None)


def test_every_method_has_an_extraction_mode():
    assert set(fmt.EXTRACTION_MODE) == set(fmt.METHODS)
    assert fmt.EXTRACTION_MODE["fine-tune-cot"] == "ft-cot" and fmt.EXTRACTION_MODE["few-shot-cot"] == "fs-cot"
    with pytest.raises(UserError):
        fmt.check_method("fine-tune-cod")
