"""The public surface of syncproto is explicit and complete."""

from __future__ import annotations

import syncproto


def test_all_is_sorted_and_complete() -> None:
    """Every public name of syncproto is in __all__, and __all__ is sorted."""
    public = {
        name
        for name, value in vars(syncproto).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("syncproto")
    }

    assert public <= set(syncproto.__all__)
    assert syncproto.__all__ == sorted(
        syncproto.__all__, key=lambda n: (not n.isupper(), n)
    )
