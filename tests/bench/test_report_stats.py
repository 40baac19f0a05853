"""The report's interval text: plain for levels, signed for differences."""

import math

from stepstone.bench.report_stats import interval_text


def test_plain_interval_keeps_ascii_minus_and_digits():
    assert interval_text(1.384, -0.751, 3.606, 2) == "1.38 [-0.75, 3.61]"
    assert interval_text(0.06, -0.05, 0.25, 3) == "0.060 [-0.050, 0.250]"


def test_signed_interval_gives_every_number_its_sign_with_a_typographic_minus():
    assert interval_text(0.68, -0.35, 1.97, 2, signed=True) == "+0.68 [\u22120.35, +1.97]"
    assert interval_text(-2.0, -3.5, -0.25, 1, signed=True) == "\u22122.0 [\u22123.5, \u22120.2]"


def test_missing_mean_gives_an_empty_cell():
    assert interval_text(math.nan, math.nan, math.nan, 2) == ""
    assert interval_text(math.nan, 0.0, 1.0, 2, signed=True) == ""
