"""Students: tiny models learn a toy mapping, are deterministic, generate in batches exactly as one
at a time, save and load, and ``hf:`` loads local directories (with LoRA) and fails fast offline."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from ftcot import registry as plugins
from ftcot.contracts.student import META_FILE, StudentModel, TrainConfig
from ftcot.errors import UserError

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("one_torch_thread")]

LETTERS = "abcdefgh"


def sort_pairs(n: int, seed: int, *, decoder: bool) -> list[tuple[str, str]]:
    """Toy mapping: four distinct letters -> the same letters sorted. Decoder targets follow the
    Fine-tune-CoT shape (leading space, `END`); encoder-decoder targets are bare."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        letters = rng.sample(LETTERS, 4)
        answer = " ".join(sorted(letters))
        target = f" {answer} END" if decoder else answer
        pairs.append((f"sort {' '.join(letters)} ###", target))
    return pairs


def bare(target: str) -> str:
    return target.replace("END", "").strip()


def corpus_of(pairs: list[tuple[str, str]]) -> list[str]:
    return [f"{source}{target}" for source, target in pairs]


def load(spec: str, pairs: list[tuple[str, str]], seed: int = 0) -> StudentModel:
    return plugins.create_student(spec).load(corpus_of(pairs), seed=seed)


@pytest.fixture(scope="module")
def trained_llama(tmp_path_factory: pytest.TempPathFactory) -> StudentModel:
    torch.set_num_threads(1)
    pairs = sort_pairs(300, seed=1, decoder=True)
    model = load("tiny-llama", pairs)
    config = TrainConfig(lr=1e-3, batch_size=32, max_steps=120)
    model.train(pairs, config, tmp_path_factory.mktemp("ckpt"), seed=0, progress=False)
    return model


# ---- learning ---------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["tiny-gpt2", "tiny-llama", "tiny-t5"])
def test_tiny_student_learns_a_toy_mapping(spec: str, tmp_path: Path):
    decoder = spec != "tiny-t5"
    train = sort_pairs(400, seed=1, decoder=decoder)
    test = sort_pairs(60, seed=2, decoder=decoder)
    model = load(spec, train + test)
    before = model.generate([s for s, _ in test], max_new_tokens=12, batch_size=32)
    model.train(train, TrainConfig(lr=1e-3, batch_size=32, max_steps=150), tmp_path, seed=0, progress=False)
    after = model.generate([s for s, _ in test], max_new_tokens=12, batch_size=32)

    def accuracy(outputs: list[str]) -> float:
        return sum(o.strip() == bare(t) for o, (_, t) in zip(outputs, test)) / len(test)

    assert accuracy(before) < 0.2
    assert accuracy(after) >= 0.9, after[:5]
    assert model.history[-1]["step"] == 150
    assert model.history[-1]["loss"] < model.history[0]["loss"]


# ---- determinism ------------------------------------------------------------------------------

def _train_small(spec: str, seed: int, directory: Path) -> StudentModel:
    pairs = sort_pairs(48, seed=3, decoder=spec != "tiny-t5")
    model = load(spec, pairs, seed=seed)
    model.train(pairs, TrainConfig(lr=1e-3, batch_size=8, epochs=2), directory, seed=seed, progress=False)
    return model


@pytest.mark.parametrize("spec", ["tiny-llama", "tiny-t5"])
def test_same_seed_gives_identical_weights_and_outputs(spec: str, tmp_path: Path):
    first = _train_small(spec, 7, tmp_path / "a")
    second = _train_small(spec, 7, tmp_path / "b")
    other = _train_small(spec, 8, tmp_path / "c")
    a, b, c = (m.model.state_dict() for m in (first, second, other))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    prompts = [s for s, _ in sort_pairs(8, seed=9, decoder=True)]
    assert first.generate(prompts, max_new_tokens=8, batch_size=4) == second.generate(
        prompts, max_new_tokens=8, batch_size=4
    )


# ---- generation -------------------------------------------------------------------------------

def test_batched_generation_equals_one_at_a_time(trained_llama: StudentModel):
    prompts = [s for s, _ in sort_pairs(12, seed=5, decoder=True)]
    prompts += ["sort a b ###", "sort h g f e d c b a ###", "a longer prompt: sort c b ###"]
    batched = trained_llama.generate(prompts, max_new_tokens=12, batch_size=32)
    single = [trained_llama.generate([p], max_new_tokens=12, batch_size=1)[0] for p in prompts]
    assert batched == single
    assert len({len(p) for p in prompts}) > 1  # the batch really was padded


def test_generation_stops_at_the_marker_and_returns_the_continuation_only(trained_llama: StudentModel):
    test = sort_pairs(10, seed=6, decoder=True)
    outputs = trained_llama.generate([s for s, _ in test], max_new_tokens=40, batch_size=8)
    assert all("END" not in o and "###" not in o and "sort" not in o for o in outputs)
    assert sum(o.strip() == bare(t) for o, (_, t) in zip(outputs, test)) >= 8
    untouched = trained_llama.generate([test[0][0]], max_new_tokens=12, batch_size=1, stop=None)[0]
    assert "END" in untouched
    assert trained_llama.generate([test[0][0]], max_new_tokens=0, batch_size=1) == [""]


def test_save_and_load_saved_round_trip(trained_llama: StudentModel, tmp_path: Path):
    trained_llama.save(tmp_path / "model")
    again = StudentModel.load_saved(tmp_path / "model")
    assert type(again) is type(trained_llama)
    assert again.key == trained_llama.key
    assert again.parameter_count == trained_llama.parameter_count
    assert again.history == trained_llama.history
    prompts = [s for s, _ in sort_pairs(6, seed=7, decoder=True)]
    assert again.generate(prompts, max_new_tokens=12, batch_size=6) == trained_llama.generate(
        prompts, max_new_tokens=12, batch_size=6
    )
    assert again.count_tokens("sort a b ### --> END") == trained_llama.count_tokens("sort a b ### --> END")


def test_load_saved_rejects_a_directory_without_a_student(tmp_path: Path):
    with pytest.raises(UserError, match="no saved student"):
        StudentModel.load_saved(tmp_path)


# ---- specs, sizes, tokenizer ------------------------------------------------------------------

def test_specs_have_canonical_keys_and_checked_options():
    default = plugins.create_student("tiny-llama")
    explicit = plugins.create_student("tiny-llama:layers=2,dim=128")
    assert default.key == explicit.key
    assert default.key.startswith("tiny-llama:layers=2,dim=128,heads=4")
    assert plugins.create_student("tiny-llama:layers=3").key != default.key
    with pytest.raises(UserError, match="layerz"):
        plugins.create_student("tiny-llama:layerz=3")
    with pytest.raises(UserError, match="multiple of heads"):
        plugins.create_student("tiny-gpt2:dim=130,heads=4")
    with pytest.raises(UserError, match="dim must be an integer"):
        plugins.create_student("tiny-t5:dim=wide")
    with pytest.raises(UserError, match="needs a model"):
        plugins.create_student("hf")


def test_default_tiny_llama_size_and_families():
    pairs = sort_pairs(50, seed=1, decoder=True)
    llama = load("tiny-llama", pairs)
    assert 0.3e6 < llama.parameter_count < 0.5e6
    assert not llama.is_encoder_decoder
    assert load("tiny-t5", pairs).is_encoder_decoder
    bigger = load("tiny-llama:layers=3,dim=64,heads=2", pairs)
    assert bigger.model.config.num_hidden_layers == 3 and bigger.model.config.hidden_size == 64


def test_a_tiny_student_builds_without_any_text_and_honours_threads():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        student = plugins.create_student("tiny-t5:layers=1,dim=32,heads=2", threads=1)
        model = student.load([], seed=0)
        assert torch.get_num_threads() == 1
        assert student.key == plugins.create_student("tiny-t5:layers=1,dim=32,heads=2").key
    finally:
        torch.set_num_threads(before)
    assert len(model.generate(["Q: which? ###", "x"], max_new_tokens=3, batch_size=2)) == 2
    assert model.count_tokens("END") == 1


def test_tokenizer_keeps_markers_and_digits_whole():
    text = "Q: 128 + 7 = ? ### 128 plus 7 makes 135 --> 135 END"
    model = load("tiny-gpt2", [(text, "")] * 3)
    tokens = model.tokenizer.convert_ids_to_tokens(model.tokenizer(text, add_special_tokens=False)["input_ids"])
    for marker in ("###", "-->", "END"):
        assert marker in tokens
    assert all(not any(ch.isdigit() for ch in t) or t.strip("Ġ").isdigit() and len(t.strip("Ġ")) == 1
               for t in tokens)
    ids = model.tokenizer(text, add_special_tokens=False)["input_ids"]
    assert model.tokenizer.decode(ids) == text
    assert model.count_tokens(text) == len(ids)
    assert model.count_tokens("") == 0
    # a word merely containing the marker stays a word
    assert "END" not in model.tokenizer.convert_ids_to_tokens(
        model.tokenizer("WEEKEND", add_special_tokens=False)["input_ids"])


# ---- hf: ----------------------------------------------------------------------------------------

def test_a_lora_tiny_student_saves_its_base_beside_the_adapters(tmp_path: Path):
    pairs = sort_pairs(32, seed=1, decoder=True)
    model = load("tiny-gpt2", pairs)
    model.train(pairs, TrainConfig(lr=1e-2, batch_size=16, epochs=1, lora="r=2"), tmp_path / "ck", seed=0,
                progress=False)
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "adapter" / "adapter_model.safetensors").is_file()
    assert (tmp_path / "m" / "base" / "model.safetensors").is_file() and not (tmp_path / "m" / "model.safetensors").exists()
    prompts = [s for s, _ in pairs[:4]]
    assert StudentModel.load_saved(tmp_path / "m").generate(prompts, max_new_tokens=6, batch_size=4) == model.generate(
        prompts, max_new_tokens=6, batch_size=4)


@pytest.mark.parametrize("spec", ["tiny-llama", "tiny-gpt2", "tiny-t5"])
def test_hf_loads_a_local_directory_and_trains_with_lora(spec: str, tmp_path: Path):
    decoder = spec != "tiny-t5"
    pairs = sort_pairs(64, seed=1, decoder=decoder)
    tiny = load(spec, pairs)
    tiny.save(tmp_path / "base")
    student = plugins.create_student(f"hf:{tmp_path / 'base'}")
    assert student.key == f"hf:{(tmp_path / 'base').resolve()}"
    model = student.load([], seed=0)
    assert model.is_encoder_decoder == (not decoder)
    assert model.parameter_count == tiny.parameter_count
    prompts = [s for s, _ in pairs[:4]]
    assert model.generate(prompts, max_new_tokens=6, batch_size=4) == tiny.generate(
        prompts, max_new_tokens=6, batch_size=4)

    base = {k: v.clone() for k, v in model.model.state_dict().items()}
    config = TrainConfig(lr=1e-2, batch_size=16, epochs=2, lora="r=4,alpha=8")
    model.train(pairs, config, tmp_path / "ckpt", seed=0, progress=False)
    trainable = [n for n, p in model.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert model.parameter_count == tiny.parameter_count  # adapters are not counted as the model
    model.save(tmp_path / "tuned")
    saved = {p.relative_to(tmp_path / "tuned").as_posix() for p in (tmp_path / "tuned").rglob("*.safetensors")}
    assert saved == {"adapter/adapter_model.safetensors"}  # the adapters only; the base is named
    meta = json.loads((tmp_path / "tuned" / META_FILE).read_text())
    assert meta["base"]["source"] == str((tmp_path / "base").resolve()) and meta["lora"] == "r=4,alpha=8"
    adapter_bytes = (tmp_path / "tuned" / "adapter" / "adapter_model.safetensors").stat().st_size
    assert adapter_bytes < sum(p.stat().st_size for p in (tmp_path / "base").glob("*.safetensors")) / 2
    tuned = StudentModel.load_saved(tmp_path / "tuned")
    changed = [k for k, v in tuned.model.state_dict().items() if k in base and not torch.equal(v, base[k])]
    assert changed  # the adapters were folded into the base on loading
    assert tuned.generate(prompts, max_new_tokens=6, batch_size=4) == model.generate(
        prompts, max_new_tokens=6, batch_size=4)


def test_hf_family_can_be_forced(tmp_path: Path):
    pairs = sort_pairs(16, seed=1, decoder=True)
    load("tiny-llama", pairs).save(tmp_path / "m")
    assert not plugins.create_student(f"hf-causal:{tmp_path / 'm'}").load([], 0).is_encoder_decoder


def test_missing_hub_model_offline_is_one_line(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    student = plugins.create_student("hf:ftcot-tests/no-such-model")
    with pytest.raises(UserError) as info:
        student.load([], seed=0)
    message = str(info.value)
    assert "\n" not in message
    assert "ftcot-tests/no-such-model" in message and "local directory" in message


def test_missing_local_directory_is_one_line(tmp_path: Path):
    with pytest.raises(UserError, match="no model directory"):
        plugins.create_student(f"hf:{tmp_path}/missing/model")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_training_and_generation_on_a_gpu_use_bf16_autocast(tmp_path: Path):
    pairs = sort_pairs(200, seed=1, decoder=True)
    model = load("tiny-llama", pairs)
    assert model.device.type == "cuda" and next(model.model.parameters()).is_cuda
    model.train(pairs, TrainConfig(lr=1e-3, batch_size=32, max_steps=100), tmp_path, seed=0, progress=False)
    assert next(model.model.parameters()).dtype == torch.float32  # master weights stay fp32
    outputs = model.generate([s for s, _ in pairs[:40]], max_new_tokens=12, batch_size=16)
    assert sum(o.strip() == bare(t) for o, (_, t) in zip(outputs, pairs[:40])) >= 30
    model.save(tmp_path / "m")
    assert StudentModel.load_saved(tmp_path / "m", device="cpu").device.type == "cpu"


def test_the_stop_check_ends_a_row_once_its_new_text_holds_the_marker():
    model = load("tiny-gpt2", sort_pairs(16, seed=1, decoder=True))

    def ids(text: str) -> list[int]:
        return model.tokenizer(text, add_special_tokens=False)["input_ids"]

    prompt = ids("sort b a ###")
    check = model._stop_kwargs("END", len(prompt))["stopping_criteria"][0]
    assert check(torch.tensor([prompt + ids(" a b END")]), None).tolist() == [True]
    assert check(torch.tensor([prompt + ids(" a b EN")]), None).tolist() == [False]
    assert check(torch.tensor([prompt + ids(" a WEEKEND")]), None).tolist() == [True]  # text, not words
    marked = ids("END ###")  # a marker in the prompt does not count
    assert model._stop_kwargs("END", len(marked))["stopping_criteria"][0](
        torch.tensor([marked + ids(" a")]), None).tolist() == [False]
