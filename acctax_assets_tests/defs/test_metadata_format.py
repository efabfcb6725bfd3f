"""Metadata as a person reads it: rounded scores, percentages, tables for mappings, "none" for empty values, no
`nan`; plots as short image links the UI draws inline; the predictions preview readable in Korean."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dagster import (
    DagsterInstance,
    FloatMetadataValue,
    IntMetadataValue,
    MarkdownMetadataValue,
    TableMetadataValue,
    TextMetadataValue,
)

from acctax_assets.defs.ledger_predictions import _least_confident
from acctax_assets.defs.metadata_format import (
    FIGURES_LOG_NAMESPACE,
    INLINE_MARKDOWN_LIMIT,
    frame_table,
    inline_image,
    mapping_table,
    markdown_frame,
    percent,
    preview_table,
    readable,
    share_of,
    significant,
    table_text,
)
from acctax_assets.ml.evaluation.confidence import ReviewPolicy, reliability_table
from acctax_assets.ml.evaluation.reports import (
    EMPTY_BIN,
    MAX_MATRIX_CLASSES,
    EvaluationReport,
    confused_pairs,
    confusion_matrix_png,
)


def records(value: TableMetadataValue) -> list[dict]:
    return [dict(record.data) for record in value.records]


def shown(metadata: dict) -> str:
    """Everything the UI would print for these values, as one text (tables as JSON records)."""
    parts = []
    for value in metadata.values():
        parts.append(
            json.dumps(records(value), ensure_ascii=False)
            if isinstance(value, TableMetadataValue)
            else str(getattr(value, "value", value))
        )
    return "\n".join(parts)


@pytest.mark.parametrize(
    ("value", "rounded"),
    [(0.9107605353652877, 0.9108), (437.7590261455877, 437.8), (12345.6, 12350.0), (0.00012345, 0.0001234), (0.0, 0.0)],
)
def test_scores_keep_four_significant_digits(value: float, rounded: float) -> None:
    assert significant(value) == rounded


def test_shares_read_as_percentages_with_their_counts() -> None:
    assert percent(0.1154041687849517) == "11.5 %"
    assert share_of(23, 200) == "11.5 % (23 of 200)"
    assert share_of(1_234, 10_000) == "12.3 % (1,234 of 10,000)"
    assert share_of(0, 0) == "n/a (0 of 0)"


def test_readable_metadata_has_no_raw_floats_empty_json_or_nan() -> None:
    metadata = readable(
        {
            "valid_f1_macro": 0.9107605353652877,
            "tokens_per_second": FloatMetadataValue(437.7590261455877),
            "test_ece": float("nan"),
            "rows": np.int64(200),
            "by_reason": {"low_confidence": 20, "empty_text": 3},
            "superseded_by_file": {},
            "new_codes": [],
            "text_example": "",
            "months": ["2024-01", "2024-02"],
        }
    )
    assert metadata["valid_f1_macro"] == FloatMetadataValue(0.9108)
    assert metadata["tokens_per_second"] == FloatMetadataValue(437.8)
    assert metadata["test_ece"] == TextMetadataValue("not measured")
    assert metadata["rows"] == IntMetadataValue(200)
    assert records(metadata["by_reason"]) == [
        {"name": "low_confidence", "value": 20},
        {"name": "empty_text", "value": 3},
    ]
    assert metadata["superseded_by_file"] == TextMetadataValue("none")
    assert metadata["new_codes"] == "none" and metadata["text_example"] == "none"
    assert metadata["months"] == ["2024-01", "2024-02"], "lists that code reads back stay lists"
    text = shown(metadata)
    assert "nan" not in text.lower() and "{}" not in text and "[]" not in text


def test_mappings_become_named_tables_with_nested_values_on_one_line() -> None:
    table = mapping_table({"a.csv": {"period line": 3, "line above": 2}, "b.xlsx": ["거래처", "적요"]}, "file", "what")
    assert records(table) == [
        {"file": "a.csv", "what": "period line 3, line above 2"},
        {"file": "b.xlsx", "what": "거래처, 적요"},
    ]
    assert [column.name for column in table.schema.columns] == ["file", "what"]
    assert mapping_table({}, "file", "rows") == TextMetadataValue("none")


def test_frame_tables_round_and_say_percent_and_never_nan() -> None:
    frame = pd.DataFrame(
        {"candidate": ["adapter", "baseline"], "valid_f1_macro": [0.91076053, np.nan], "review_share": [0.1154, 0.2]}
    )
    table = frame_table(frame, percent_columns=["review_share"])
    assert records(table) == [
        {"candidate": "adapter", "valid_f1_macro": 0.9108, "review_share": "11.5 %"},
        {"candidate": "baseline", "valid_f1_macro": "n/a", "review_share": "20.0 %"},
    ]
    assert "nan" not in markdown_frame(frame).lower()
    assert "| adapter" in table_text(table), "the command line prints a table as markdown"


def test_an_empty_calibration_bin_says_no_rows() -> None:
    reliability, ece = reliability_table([0.95, 0.96, 0.15], [True, True, False])
    assert reliability["rows"].eq(0).any(), "the fixture leaves bins empty"
    threshold = ReviewPolicy(0.9).threshold(np.array([0.95, 0.96, 0.15]), np.array([True, True, False]))
    empty = pd.DataFrame({"band": ["head"], "f1": [1.0]})
    report = EvaluationReport(threshold, 0.3, 1.0, 1.0, ece, reliability, empty, empty).markdown()
    assert "nan" not in report.lower() and EMPTY_BIN in report


def test_the_preview_is_short_korean_text_grouped_amounts_and_three_decimals() -> None:
    table = pd.DataFrame(
        {
            "party_name": ["(주)스타벅스커피코리아 강남역삼점", "SK에너지"],
            "item": ["커피", None],
            "total_amount": [1234000, -5000],
            "predicted_code": ["81300", "82200"],
            "predicted_name": ["접대비", "차량유지비"],
            "confidence": [0.41234567, 0.98765],
            "needs_review": [True, False],
            "review_reason": ["low_confidence; disagrees with precedent 81100 (14/15)", None],
        }
    )
    preview = records(_least_confident(table))
    assert preview[0] == {
        "party": "(주)스타벅스커피코리아 …",
        "item": "커피",
        "amount": "1,234,000",
        "proposal": "81300 접대비",
        "confidence": "0.412",
        "review": "low_confidence",
    }
    assert preview[1]["amount"] == "-5,000" and preview[1]["item"] == "" and preview[1]["review"] == ""
    generic = records(preview_table(table))
    assert generic[0]["total_amount"] == "1,234,000" and generic[0]["confidence"] == "0.412"
    assert all(len(str(cell)) <= 14 for row in generic for cell in row.values())


def confusion_report(size: int) -> dict:
    rng = np.random.default_rng(0)
    matrix = np.diag(rng.integers(20, 50, size))
    matrix[0, 1], matrix[2, 0], matrix[5, 7] = 9, 4, 1
    codes = [f"8{i:04d}" for i in range(size)]
    return {
        "confusion_matrix": {"labels": codes, "matrix": matrix.tolist()},
        "per_class": [[c, f"계정{i}", 1.0, 1.0, 1.0, int(matrix[i].sum())] for i, c in enumerate(codes)],
    }


def test_confused_pairs_list_the_most_frequent_mistakes_first() -> None:
    pairs = confused_pairs(confusion_report(30))
    assert pairs[["true_code", "predicted_code", "rows"]].values.tolist() == [
        ["80000", "80001", 9],
        ["80002", "80000", 4],
        ["80005", "80007", 1],
    ]
    assert pairs.loc[0, "true_name"] == "계정0" and 0 < pairs.loc[0, "share_of_true_code"] < 1


def test_the_confusion_matrix_shows_the_confused_codes_at_screen_size(tmp_path: Path) -> None:
    from PIL import Image

    path = confusion_matrix_png(confusion_report(250), tmp_path / "confusion.png")
    with Image.open(path) as image:
        width, height = image.size
    assert height <= 600 and width <= 600, f"a screen holds it: at most {MAX_MATRIX_CLASSES} codes"


def test_plots_are_short_image_links_served_by_the_webserver(tmp_path: Path) -> None:
    """The markdown stays under the inline limit and dagster-webserver answers its link with the PNG."""
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import EmptyWorkspaceTarget
    from dagster_webserver.app import create_app_from_workspace_process_context
    from starlette.testclient import TestClient

    image = tmp_path / "plot.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("", encoding="utf-8")
    with DagsterInstance.from_config(str(home)) as instance:
        value = inline_image(instance, image, "reliability", "served_classifier", "v1", "reliability_test")
        link = f"/logs/{FIGURES_LOG_NAMESPACE}/served_classifier/v1/reliability_test/png"
        assert isinstance(value, MarkdownMetadataValue) and value.value == f"![reliability]({link})"
        assert len(value.value) < INLINE_MARKDOWN_LIMIT, "the UI draws markdown inline only below 1,000 characters"
        with WorkspaceProcessContext(instance, EmptyWorkspaceTarget()) as context:
            answer = TestClient(create_app_from_workspace_process_context(context)).get(link)
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert answer.content == image.read_bytes()


def test_without_a_local_compute_log_folder_the_image_is_embedded(tmp_path: Path) -> None:
    image = tmp_path / "plot.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    with DagsterInstance.ephemeral() as instance:
        value = inline_image(instance, image, "reliability", "served_classifier", "v1", "reliability_test")
    assert value.value.startswith("![reliability](data:image/png;base64,")


def test_non_finite_values_are_not_shown_as_nan() -> None:
    assert math.isnan(significant(float("nan")))
    assert readable({"x": np.float64("inf")})["x"] == TextMetadataValue("not measured")
