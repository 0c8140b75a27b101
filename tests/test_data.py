"""Checks for ganlab.data: the built-in datasets and the CSV loader's messages."""

import numpy as np
import pytest
from scipy import stats

from ganlab.data import DataFileError, galton, heights, load_file
from ganlab.data.files import read_column


def write_csv(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path, column=None, min_rows=2):
    """Return the message of the DataFileError that load_file raises for ``path``."""
    with pytest.raises(DataFileError) as caught:
        load_file(path, column, min_rows)
    return str(caught.value)


# Built-in datasets.


def test_heights_analytic_quantiles():
    levels = np.array([0.001, 0.01, 0.05, 0.5, 0.95, 0.99, 0.999])

    np.testing.assert_allclose(heights().quantile(levels), stats.norm(69, 3).ppf(levels), rtol=0, atol=1e-12)


def test_heights_quantile_known_value():
    # The standard normal 0.975 quantile is 1.959963984540054.
    assert heights().quantile(0.975) == pytest.approx(69 + 3 * 1.959963984540054, abs=1e-9)
    assert heights().quantile(0.5) == pytest.approx(69.0, abs=1e-12)


def test_heights_reference_sample_is_quantiles():
    n = 1000
    expected = stats.norm(69, 3).ppf((np.arange(n) + 0.5) / n)

    np.testing.assert_allclose(heights().reference_sample(n), expected, rtol=0, atol=1e-12)


def test_galton_size_and_moments():
    data = galton()

    assert data.values.size == 481
    assert data.mean == pytest.approx(69.234, abs=1e-3)
    assert data.sd == pytest.approx(2.624, abs=1e-3)
    assert data.sd == pytest.approx(np.std(data.values, ddof=1))
    assert data.describe()["rows"] == 481


def test_galton_range():
    data = galton()

    assert data.values.min() == 60.0
    assert data.values.max() == 79.0


# load_file and read_column errors.


def test_missing_file_message(tmp_path):
    path = tmp_path / "nowhere.csv"

    message = load_error(path)

    assert "nowhere.csv" in message
    assert "not found" in message
    assert "check the path" in message


def test_empty_file_message(tmp_path):
    path = write_csv(tmp_path, "empty.csv", "")

    message = load_error(path)

    assert "empty.csv" in message
    assert "is empty" in message
    assert "column of numbers" in message


def test_blank_lines_file_message(tmp_path):
    path = write_csv(tmp_path, "blank.csv", "\n   \n\n")

    message = load_error(path)

    assert "blank.csv" in message
    assert "is empty" in message


def test_header_only_message(tmp_path):
    path = write_csv(tmp_path, "header.csv", "height\n")

    message = load_error(path)

    assert "header.csv" in message
    assert "header but no data rows" in message


def test_no_numeric_column_message(tmp_path):
    path = write_csv(tmp_path, "names.csv", "name,city\nann,leeds\nbob,york\n")

    message = load_error(path)

    assert "names.csv" in message
    assert "no numeric column" in message
    assert "'ann,leeds'" in message


def test_named_column_missing_message(tmp_path):
    path = write_csv(tmp_path, "people.csv", "name,height\nann,70\nbob,71\n")

    message = load_error(path, column="weight")

    assert "people.csv" in message
    assert "no column 'weight'" in message
    assert "'name', 'height'" in message


def test_non_number_line_message(tmp_path):
    path = write_csv(tmp_path, "typo.csv", "height\n70\n71\nabc\n72\n")

    message = load_error(path)

    assert "typo.csv" in message
    assert "line 4" in message
    assert "'abc'" in message
    assert "column 'height'" in message
    assert "not a number" in message
    assert "fix or delete the row" in message


def test_non_number_headerless_line(tmp_path):
    # Without a header the first line contains data, so the fourth value sits on line 4.
    path = write_csv(tmp_path, "bare.csv", "70\n71\n72\n7l\n")

    message = load_error(path)

    assert "line 4" in message
    assert "'7l'" in message
    assert "column '1'" in message


def test_non_number_after_blank_line(tmp_path):
    # Lines: 1 header, 2 "70", 3 blank, 4 "71", 5 "abc".
    path = write_csv(tmp_path, "gap.csv", "height\n70\n\n71\nabc\n")

    message = load_error(path)

    assert "line 5" in message


def test_empty_cell_message(tmp_path):
    path = write_csv(tmp_path, "hole.csv", "name,height\nann,70\nbob,\ncy,71\n")

    message = load_error(path)

    assert "hole.csv" in message
    assert "line 3" in message
    assert "column 'height' is empty" in message


@pytest.mark.parametrize("token", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_non_finite_value_message(tmp_path, token):
    path = write_csv(tmp_path, "odd.csv", f"height\n70\n71\n{token}\n")

    message = load_error(path)

    assert "odd.csv" in message
    assert "line 4" in message
    assert repr(token) in message
    assert "not a finite number" in message
    assert "remove the row or replace the value" in message


def test_fewer_rows_than_batch(tmp_path):
    path = write_csv(tmp_path, "short.csv", "height\n70\n71\n72\n")

    message = load_error(path, min_rows=200)

    assert "short.csv" in message
    assert "has only 3 value(s)" in message
    assert "batch size 200" in message
    assert "--batch-size" in message


def test_zero_spread_message(tmp_path):
    path = write_csv(tmp_path, "flat.csv", "height\n" + "70.5\n" * 10)

    message = load_error(path)

    assert "flat.csv" in message
    assert "70.5" in message
    assert "zero spread" in message


def test_several_numeric_columns_message(tmp_path):
    path = write_csv(tmp_path, "wide.csv", "height,weight,name\n70,160,ann\n71,170,bob\n")

    message = load_error(path)

    assert "wide.csv" in message
    assert "several numeric columns" in message
    assert "'height', 'weight'" in message
    assert "--column" in message


def test_several_numeric_columns_with_choice(tmp_path):
    path = write_csv(tmp_path, "wide.csv", "height,weight,name\n70,160,ann\n71,170,bob\n")

    np.testing.assert_array_equal(read_column(path, "weight"), [160.0, 170.0])


# load_file and read_column happy paths.


def test_headerless_single_column(tmp_path):
    path = write_csv(tmp_path, "bare.csv", "70.5\n68.25\n71\n66\n")

    data = load_file(path, None, 4)

    np.testing.assert_array_equal(data.values, [66.0, 68.25, 70.5, 71.0])
    assert data.mean == pytest.approx(68.9375)
    assert data.sd == pytest.approx(np.std([70.5, 68.25, 71, 66], ddof=1))


def test_headerless_column_named_by_number(tmp_path):
    path = write_csv(tmp_path, "pair.csv", "1,70.5\n2,68.25\n3,71\n")

    np.testing.assert_array_equal(read_column(path, "2"), [70.5, 68.25, 71.0])


def test_header_numeric_and_text(tmp_path):
    path = write_csv(tmp_path, "people.csv", "name,height\nann,70.5\nbob,68.25\ncy,71\n")

    np.testing.assert_array_equal(read_column(path), [70.5, 68.25, 71.0])


def test_semicolon_separated_file(tmp_path):
    path = write_csv(tmp_path, "semi.csv", "name;height\nann;70.5\nbob;68.25\ncy;71\n")

    np.testing.assert_array_equal(read_column(path), [70.5, 68.25, 71.0])


def test_tab_separated_file(tmp_path):
    path = write_csv(tmp_path, "tabs.tsv", "name\theight\nann\t70.5\nbob\t68.25\n")

    np.testing.assert_array_equal(read_column(path), [70.5, 68.25])


def test_byte_order_mark_ignored(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("height\n70\n71\n".encode("utf-8-sig"))

    np.testing.assert_array_equal(read_column(path, "height"), [70.0, 71.0])


def test_load_file_dataset_fields(tmp_path):
    path = write_csv(tmp_path, "people.csv", "name,height\nann,70\nbob,72\ncy,74\n")

    data = load_file(path, "height", 3)

    assert data.name == str(path)
    assert data.mean == pytest.approx(72.0)
    assert data.sd == pytest.approx(2.0)
    assert "height" in data.description
    assert "people.csv" in data.description


def test_unquoted_decimal_comma_rejected(tmp_path):
    path = write_csv(tmp_path, "comma.csv", "height\n64,9\n70,5\n")

    message = load_error(path)

    assert "line 2" in message
    assert "decimal comma" in message
