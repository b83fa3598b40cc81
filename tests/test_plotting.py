"""The offline animation player: nothing fetched from a network, every control labelled."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402

from dropout_lib import plotting  # noqa: E402


def _player(frames: int = 3) -> str:
    fig, ax = plt.subplots(figsize=(1, 1))
    animation = FuncAnimation(fig, lambda i: ax.plot([i]), frames=frames)
    page = plotting.offline_player(animation, alt="a test animation")
    plt.close(fig)
    return page


def test_player_fetches_nothing_and_draws_no_icon_font():
    page = _player()
    assert "font-awesome" in _raw_player()  # what the player removes
    assert not re.search(r'(href|src)="https?://', page)
    assert 'class="fa' not in page and "font-awesome" not in page


def test_player_labels_its_image_slider_and_buttons():
    page = _player()
    assert 'alt="a test animation"' in page
    assert 'aria-label="frame"' in page
    buttons = re.findall(r"<button[^>]*>", page)
    assert len(buttons) == 9 and all("aria-label=" in b for b in buttons)
    assert page.count('<span aria-hidden="true">') == 9


def test_player_keeps_every_frame():
    assert len(re.findall(r'frames\[\d+\] = "data:image/png;base64,', _player(4))) == 4


def _raw_player() -> str:
    fig, ax = plt.subplots(figsize=(1, 1))
    page = FuncAnimation(fig, lambda i: ax.plot([i]), frames=2).to_jshtml()
    plt.close(fig)
    return page
