"""How questions, rationales and answers become a student's text: the paper's formats.

Fine-tune-CoT (``fine-tune-cot``)
    decoder: input ``{question} ###``, target `` {rationale} --> {answer} END``;
    encoder-decoder: input ``{question}``, target ``{rationale} --> {answer}``.
Vanilla fine-tuning (``fine-tune``)
    decoder: input ``{question} ###``, target `` {answer} END``; encoder-decoder: ``{question}`` -> ``{answer}``.
The ``openai`` layout (the paper's GPT-3 fine-tuning files, written by ``ftcot training-data``)
    Fine-tune-CoT: input ``{question}\\n\\n###\\n\\n``, target `` {rationale}\\n\\n-->\\n\\n{answer} END``;
    vanilla: the same input, target `` {answer} END`` (one prompt for both methods, so a
    provider-fine-tuned student is evaluated on the prompt it trained on).
Baselines on the student's base model (no training):
    ``zero-shot``: ``Q: {question}\\n\\nA:`` (decoder), ``question: {question}`` (encoder-decoder, the
    SQuAD-style prefix T5 was trained with); the answer is the first candidate (mode ``direct``);
    ``zero-shot-cot``: step 1 ``Q: {question}\\nA: Let's think step by step.``, step 2
    ``{step 1 prompt}{rationale}\\nTherefore, the answer is``; the step-2 output is read like the
    teacher's (mode ``direct``: first candidate), as the paper's evaluator does;
    ``few-shot-cot``: ``{exemplars}Q: {question}\\nA:`` with the task's exemplars (mode ``fs-cot``).

Provider fine-tuning (``openai:`` students) uses the paper's GPT-3 format instead
    (``openai_record``): prompt ``{question}\n\n###\n\n``, completion `` {rationale}\n\n-->\n\n{answer} END``
    (`` {answer} END`` for vanilla fine-tuning); chat models get the same two texts as a user and an
    assistant message. Its outputs are read like the decoder format's (``-->`` then the answer).

Question, rationale and answer are stripped of surrounding whitespace before formatting.
Generated text is cut at the stop marker ``END`` before answers are extracted.
"""

from __future__ import annotations

from dataclasses import dataclass

from ftcot.errors import UserError

FINE_TUNE_COT = "fine-tune-cot"
FINE_TUNE = "fine-tune"
ZERO_SHOT = "zero-shot"
ZERO_SHOT_COT = "zero-shot-cot"
FEW_SHOT_COT = "few-shot-cot"
METHODS = (FINE_TUNE_COT, FINE_TUNE, ZERO_SHOT, ZERO_SHOT_COT, FEW_SHOT_COT)
TRAINED_METHODS = (FINE_TUNE_COT, FINE_TUNE)

STOP = "END"
QUESTION_END = " ###"
ANSWER_ARROW = " --> "
OPENAI_QUESTION_END = "\n\n###\n\n"
OPENAI_ANSWER_ARROW = "\n\n-->\n\n"

# layouts of a training pair: the two student architectures and the GPT-3 fine-tuning files
DECODER = "decoder"
ENCODER_DECODER = "encoder-decoder"
OPENAI = "openai"
PAIR_LAYOUTS = (DECODER, ENCODER_DECODER, OPENAI)
ZS_COT_TRIGGER = "Let's think step by step."
ZS_COT_ANSWER_TRIGGER = "\nTherefore, the answer is"
FEW_SHOT_ANSWER_PREFIX = "The answer is"  # how few-shot-CoT exemplars state their answer

# the task's extraction mode that reads each method's output
EXTRACTION_MODE = {
    FINE_TUNE_COT: "ft-cot",
    FINE_TUNE: "direct",
    ZERO_SHOT: "direct",
    ZERO_SHOT_COT: "direct",  # applied to the step-2 output
    FEW_SHOT_COT: "fs-cot",
}


@dataclass(frozen=True)
class Pair:
    """One training pair: what the student reads and what it learns to write."""

    input: str
    target: str


def check_method(method: str) -> str:
    if method not in METHODS:
        raise UserError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    return method


def cot_pair(question: str, rationale: str, answer: str, encoder_decoder: bool) -> Pair:
    """The Fine-tune-CoT training pair."""
    question, rationale, answer = question.strip(), rationale.strip(), answer.strip()
    if encoder_decoder:
        return Pair(question, f"{rationale}{ANSWER_ARROW}{answer}")
    return Pair(question + QUESTION_END, f" {rationale}{ANSWER_ARROW}{answer} {STOP}")


def openai_record(question: str, rationale: str | None, answer: str | None, chat: bool = False) -> dict:
    """One line of a provider fine-tuning file in the paper's GPT-3 format: ``{"prompt",
    "completion"}``, or ``{"messages": [user, assistant]}`` for chat models. With ``answer`` None
    the completion is empty (the prompt a fine-tuned model is evaluated on)."""
    prompt, completion = question.strip() + OPENAI_QUESTION_END, ""
    if answer is not None:
        pair = training_pair(question, rationale, answer, OPENAI)
        prompt, completion = pair.input, pair.target
    if chat:
        return {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]}
    return {"prompt": prompt, "completion": completion}


def vanilla_pair(question: str, answer: str, encoder_decoder: bool) -> Pair:
    """The vanilla fine-tuning pair: question to answer."""
    question, answer = question.strip(), answer.strip()
    if encoder_decoder:
        return Pair(question, answer)
    return Pair(question + QUESTION_END, f" {answer} {STOP}")


def openai_cot_pair(question: str, rationale: str, answer: str) -> Pair:
    """The Fine-tune-CoT pair in the paper's GPT-3 fine-tuning layout."""
    question, rationale, answer = question.strip(), rationale.strip(), answer.strip()
    return Pair(question + OPENAI_QUESTION_END, f" {rationale}{OPENAI_ANSWER_ARROW}{answer} {STOP}")


def openai_vanilla_pair(question: str, answer: str) -> Pair:
    """The vanilla pair in the paper's GPT-3 fine-tuning layout."""
    return Pair(question.strip() + OPENAI_QUESTION_END, f" {answer.strip()} {STOP}")


def layout_for(encoder_decoder: bool) -> str:
    """The pair layout a local student of this architecture trains on."""
    return ENCODER_DECODER if encoder_decoder else DECODER


def training_pair(question: str, rationale: str | None, answer: str, layout: str) -> Pair:
    """The training pair in ``layout``: Fine-tune-CoT with a rationale, vanilla without (None)."""
    if layout not in PAIR_LAYOUTS:
        raise UserError(f"unknown format {layout!r}; choose one of {', '.join(PAIR_LAYOUTS)}")
    if layout == OPENAI:
        return openai_vanilla_pair(question, answer) if rationale is None else openai_cot_pair(question, rationale, answer)
    encoder_decoder = layout == ENCODER_DECODER
    if rationale is None:
        return vanilla_pair(question, answer, encoder_decoder)
    return cot_pair(question, rationale, answer, encoder_decoder)


def fine_tuned_prompt(question: str, encoder_decoder: bool) -> str:
    """The input a fine-tuned student (either method) is evaluated on."""
    question = question.strip()
    return question if encoder_decoder else question + QUESTION_END


def zero_shot_prompt(question: str, encoder_decoder: bool) -> str:
    question = question.strip()
    return f"question: {question}" if encoder_decoder else f"Q: {question}\n\nA:"


def zero_shot_cot_prompt(question: str) -> str:
    """Zero-shot-CoT step 1 (the same for both architectures)."""
    return f"Q: {question.strip()}\nA: {ZS_COT_TRIGGER}"


def zero_shot_cot_answer_prompt(step1_prompt: str, rationale: str) -> str:
    """Zero-shot-CoT step 2: the step-1 prompt, the rationale and the answer trigger."""
    return f"{step1_prompt}{rationale}{ZS_COT_ANSWER_TRIGGER}"


def few_shot_cot_prompt(exemplars: str, question: str) -> str:
    """The task's exemplars (ending ready for the next ``Q:``) followed by the question."""
    if exemplars and not exemplars.endswith("\n"):
        exemplars += "\n"
    return f"{exemplars}Q: {question.strip()}\nA:"


def cut_at_stop(text: str, stop: str = STOP) -> str:
    """The generated text up to (not including) the stop marker."""
    head, _, _ = text.partition(stop)
    return head.strip()


def split_cot_output(text: str) -> tuple[str, str | None]:
    """A Fine-tune-CoT output -> (rationale, answer text after ``-->``; None when missing)."""
    body = cut_at_stop(text)
    rationale, sep, answer = body.partition(ANSWER_ARROW.strip())
    return rationale.strip(), (answer.strip() if sep else None)
