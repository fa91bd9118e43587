"""The strip workers' ordered map: results in order, errors raised to the caller."""

from __future__ import annotations

import pytest

from service.pipeline.parallel import ordered_map


def test_ordered_map_keeps_order_and_raises_errors() -> None:
    assert list(ordered_map(lambda i: i * i, range(20))) == [i * i for i in range(20)]

    def boom(i: int) -> int:
        if i == 7:
            raise ValueError("strip 7")
        return i

    with pytest.raises(ValueError, match="strip 7"):
        list(ordered_map(boom, range(20)))
