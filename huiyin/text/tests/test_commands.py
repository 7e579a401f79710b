"""`huiyin text train|predict` — the contract integrators and the acceptance checks rely on."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from huiyin.text.models import TextModel

# Deterministic, made-up training rows: three categories with their own words.
TOPICS = {
    "delivery": ["卷烟配送延误", "送货晚了三天", "物流配送不及时", "订的货没有按时送到", "配送员迟到"],
    "attitude": ["客户经理态度恶劣", "工作人员服务态度差", "接电话的人很不耐烦", "营业员态度冷漠", "服务人员骂人"],
    "supply": ["货源分配不公平", "紧俏烟分不到", "订货量被削减", "货源供应不足", "档位调整后货源减少"],
}


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> str:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def training_rows() -> list[list[str]]:
    rows = []
    for label, texts in TOPICS.items():
        for i, text in enumerate(texts * 4):
            rows.append([f"{text}，第{i}次反映，请尽快处理", label, "ignored"])
    return rows


def test_train_then_predict_writes_id_label_top3_confidence(db, tmp_path, capsys) -> None:
    train = write_csv(tmp_path / "train.csv", ["text", "label", "other"], training_rows())
    call_command("text", "train", "--csv", train, "--model", "tobacco-cat")
    model = TextModel.objects.get(name="tobacco-cat")
    assert model.version == 1 and model.rows == 60 and sorted(model.labels) == sorted(TOPICS)
    assert "macro_f1" in model.metrics and model.metrics["held_back"] > 0
    out = tmp_path / "out.csv"
    src = write_csv(tmp_path / "in.csv", ["id", "text"], [["a1", "配送又延误了"], ["a2", "客户经理态度很差"]])
    call_command("text", "predict", "--model", "tobacco-cat", "--csv", src, "--out", str(out))
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0]) == ["id", "label", "top3", "confidence"]
    assert [r["id"] for r in rows] == ["a1", "a2"]
    assert [r["label"] for r in rows] == ["delivery", "attitude"]
    assert rows[0]["top3"].split("|")[0] == "delivery" and len(rows[0]["top3"].split("|")) == 3
    assert 0 < float(rows[0]["confidence"]) <= 1
    call_command("text", "train", "--csv", train, "--model", "tobacco-cat")
    assert TextModel.objects.filter(name="tobacco-cat").count() == 2  # a new version, the old one kept


def test_english_text_gets_its_own_tokeniser(db, tmp_path) -> None:
    rows = []
    for label, texts in {"billing": ["charged twice on my bill", "the invoice amount is wrong", "refund my overcharge"],
                         "network": ["no signal at home", "internet is very slow", "calls keep dropping"]}.items():
        rows += [[f"{t} again, case {i}", label] for i in range(6) for t in texts]
    call_command("text", "train", "--csv", write_csv(tmp_path / "en.csv", ["text", "label"], rows), "--model", "en")
    assert TextModel.objects.get(name="en").config["language"] == "other"
    out = tmp_path / "o.csv"
    src = write_csv(tmp_path / "i.csv", ["id", "text"], [["1", "my bill was charged twice"]])
    call_command("text", "predict", "--model", "en", "--csv", src, "--out", str(out))
    assert next(csv.DictReader(out.open(encoding="utf-8")))["label"] == "billing"


@pytest.mark.parametrize(("header", "rows", "message"), [
    (["text", "category"], [["配送延误", "x"]], "no column 'label'"),
    (None, [], "empty"),
    (["text", "label"], [], "a header and no rows"),
    (["text", "label"], [["配送延误", "a"], ["态度差", "a"]], "two labels"),
])
def test_train_refuses_a_missing_column_an_empty_file_or_one_label(db, tmp_path, header, rows, message) -> None:
    path = tmp_path / "bad.csv"
    if header is None:
        path.write_text("", encoding="utf-8")
    else:
        write_csv(path, header, rows)
    with pytest.raises(CommandError, match=message):
        call_command("text", "train", "--csv", str(path), "--model", "m")
    assert not TextModel.objects.exists()


def test_predict_refuses_an_unknown_model_and_a_missing_column(db, tmp_path) -> None:
    src = write_csv(tmp_path / "in.csv", ["id", "text"], [["1", "配送延误"]])
    with pytest.raises(CommandError, match="no model named 'nope'"):
        call_command("text", "predict", "--model", "nope", "--csv", src, "--out", str(tmp_path / "o.csv"))
    call_command("text", "train", "--csv", write_csv(tmp_path / "t.csv", ["text", "label"], [r[:2] for r in training_rows()]),
                 "--model", "m")
    bad = write_csv(tmp_path / "bad.csv", ["identifier", "text"], [["1", "配送延误"]])
    with pytest.raises(CommandError, match="no column 'id'"):
        call_command("text", "predict", "--model", "m", "--csv", bad, "--out", str(tmp_path / "o.csv"))
    with pytest.raises(CommandError, match="no such file"):
        call_command("text", "predict", "--model", "m", "--csv", str(tmp_path / "missing.csv"), "--out", "x.csv")


@pytest.mark.slow
def test_training_on_many_rows_fits_in_two_processes(db, tmp_path, monkeypatch) -> None:
    # From classifier.PARALLEL_ROWS rows (20,000) the feature blocks are fitted in worker
    # processes, which cannot load Django's models: what they run must not import them.
    from huiyin.text import classifier

    monkeypatch.setattr(classifier, "PARALLEL_ROWS", 10)
    csv_path = write_csv(tmp_path / "train.csv", ["text", "label", "other"], training_rows())
    call_command("text", "train", "--csv", csv_path, "--model", "many")
    assert TextModel.objects.filter(name="many").exists()
