import pytest

from documents import hs
from ledger.errors import InvalidInput


def test_editions_and_lookups():
    assert hs.HS_EDITIONS == ("HS2012", "HS2017", "HS2022")
    assert hs.subheading_exists("870899", "HS2012")
    assert hs.heading_exists("8708", "HS2022")
    assert not hs.heading_exists("870899", "HS2012")  # 6 digits is not a heading
    assert not hs.subheading_exists("8708", "HS2012")
    # 8517.13 (smartphones) was created in HS2022; it does not exist in HS2012
    assert hs.subheading_exists("851713", "HS2022")
    assert not hs.subheading_exists("851713", "HS2012")
    assert hs.describe("87", "HS2012").startswith("Vehicles")
    assert "Motor vehicles" in hs.describe("8708", "HS2017")
    assert hs.describe("000000", "HS2012") is None


def test_unknown_edition_is_invalid_input():
    with pytest.raises(InvalidInput):
        hs.subheading_exists("870899", "HS2007")
    with pytest.raises(InvalidInput):
        hs.correlate("870899", "HS2022", "HS1996")


def test_correlate_identity_and_one_to_one():
    c = hs.correlate("870899", "HS2012", "HS2012")
    assert c.targets == ("870899",) and c.relationship == "1:1" and not c.ambiguous
    c = hs.correlate("010121", "HS2022", "HS2012")
    assert c.targets == ("010121",) and c.relationship == "1:1"


def test_correlate_merge_is_not_ambiguous():
    # HS2022 split 8517.12 into 8517.13 and 8517.14: both map back to HS2012 8517.12 (n:1)
    for code in ("851713", "851714"):
        c = hs.correlate(code, "HS2022", "HS2012")
        assert c.targets == ("851712",)
        assert c.relationship == "n:1"
        assert not c.ambiguous


def test_correlate_split_is_ambiguous():
    c = hs.correlate("285390", "HS2022", "HS2012")
    assert set(c.targets) == {"284800", "285300"}
    assert c.ambiguous
    # the reverse direction is derived by inversion: HS2012 8517.12 splits in HS2022
    back = hs.correlate("851712", "HS2012", "HS2022")
    assert {"851713", "851714"} <= set(back.targets)
    assert back.ambiguous and back.relationship in ("1:n", "n:n")


def test_correlate_rejects_unknown_code():
    with pytest.raises(InvalidInput):
        hs.correlate("851713", "HS2012", "HS2022")
