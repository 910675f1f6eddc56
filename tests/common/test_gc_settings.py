"""GC_THRESHOLD (chegouhub/common/gc.py): parsed strictly; a bad value stops the process with a clear error."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from chegouhub.common.gc import parse_threshold


def test_threshold_is_three_positive_ints_or_empty_for_pythons_own():
    assert parse_threshold("50000,20,100") == (50000, 20, 100)
    assert parse_threshold(" ") is None


@pytest.mark.parametrize("value", ["50000,20", "a,b,c", "0,10,10", "1,2,3,4"])
def test_a_bad_threshold_is_refused_by_name(value):
    with pytest.raises(ImproperlyConfigured, match="GC_THRESHOLD"):
        parse_threshold(value)
