"""CellSpec: JSON round trip, hashing, validation; cell_key covers what determines a result."""

from __future__ import annotations

import json
import pickle

import pytest

from ftcot.errors import UserError
from ftcot.pipeline import (
    CellSpec,
    cell_key,
    public_teacher_options,
    split_validation,
    train_config,
)
from ftcot.records import Example

BASE = dict(task="coin_flip:flips=4", teacher="oracle", student="tiny-gpt2", method="fine-tune-cot")


def test_round_trip_through_json_and_pickle():
    spec = CellSpec(**BASE, degree=4, seed=2, training={"epochs": 3, "lr": 1e-3},
                    teacher_options={"temperature": 0.7}, filters=("correct", "dedupe"),
                    report_epoch="best-on-val")
    again = CellSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec and again.filters == ("correct", "dedupe")
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert hash(again) == hash(spec)
    assert len({spec, again}) == 1


def test_dict_fields_are_copied_not_shared():
    training = {"epochs": 1}
    spec = CellSpec(**BASE, training=training)
    training["epochs"] = 99
    assert spec.training == {"epochs": 1}
    assert CellSpec(**BASE).training == {} and CellSpec(**BASE).filters == ("correct",)


@pytest.mark.parametrize("bad", [{"method": "fine-tune-cod"}, {"report_epoch": "best"}, {"degree": 0}])
def test_bad_specs_are_user_errors(bad):
    with pytest.raises(UserError):
        CellSpec(**(BASE | bad))


def test_unknown_fields_and_training_settings_are_user_errors():
    with pytest.raises(UserError, match="bogus"):
        CellSpec.from_dict(BASE | {"bogus": 1})
    with pytest.raises(UserError, match="epoch"):
        train_config(CellSpec(**BASE, training={"epoch": 3}))
    assert train_config(CellSpec(**BASE, training={"epochs": 3})).epochs == 3


def test_cell_key_changes_with_what_determines_the_result():
    spec = CellSpec(**BASE)
    key = cell_key(spec, "paper")
    assert key == cell_key(CellSpec.from_dict(spec.to_dict()), "paper")
    different = [
        cell_key(spec, "strict"),
        cell_key(CellSpec(**BASE, seed=1), "paper"),
        cell_key(CellSpec(**BASE, degree=2), "paper"),
        cell_key(CellSpec(**BASE, training={"lr": 1e-3}), "paper"),
        cell_key(CellSpec(**BASE, teacher_options={"temperature": 0.5}), "paper"),
        cell_key(CellSpec(**BASE, filters=("correct", "dedupe")), "paper"),
        cell_key(CellSpec(**BASE, report_epoch="best-on-test"), "paper"),
        cell_key(CellSpec(**(BASE | {"student": "tiny-t5"})), "paper"),
    ]
    assert key not in different and len(set(different)) == len(different)


def test_cell_key_ignores_how_completions_are_fetched_and_secrets():
    spec = CellSpec(**{**BASE, "teacher": "litellm:openai/m"})
    fetched = CellSpec(**{**BASE, "teacher": "litellm:openai/m"},
                       teacher_options={"concurrency": 64, "timeout": 5, "api_key": "sk-secret", "api_base": "http://h"})
    assert cell_key(spec, "paper") == cell_key(fetched, "paper")
    assert public_teacher_options({"api_key": "sk-1", "temperature": 0.7}) == {"temperature": 0.7}


def test_validation_slice_is_fixed_and_disjoint():
    train = [Example("t", i, f"q{i}", "a") for i in range(50)]
    rest, val = split_validation(train)
    assert len(val) == 5 and len(rest) == 45
    assert {e.sample_index for e in rest}.isdisjoint({e.sample_index for e in val})
    assert split_validation(train)[1] == val
