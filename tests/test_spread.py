"""`spread` and `over_seeds`: the mean, sd and range a chapter prints for a comparison."""

from __future__ import annotations

import numpy as np
import pytest

from dropout_lib.spread import Spread, over_seeds, spread


def test_spread_is_the_mean_and_sample_sd():
    result = spread([0.1, 0.2, 0.3])
    assert result.mean == pytest.approx(0.2)
    assert result.sd == pytest.approx(np.std([0.1, 0.2, 0.3], ddof=1))
    assert (result.low, result.high, result.n) == (0.1, 0.3, 3)


def test_one_value_has_no_spread():
    assert spread([0.5]) == Spread(0.5, 0.0, 0.5, 0.5, 1)


def test_format_with_a_format_spec_and_the_range():
    result = spread([0.074, 0.076, 0.078])
    assert result.format(".1%") == "7.6% ± 0.2%"
    assert result.format(".3f", show_range=True) == "0.076 ± 0.002 (0.074 to 0.078)"
    assert str(result) == "0.076 ± 0.002"


@pytest.mark.parametrize("bad", [[], [float("nan")], [[1.0, 2.0]], [1.0, float("inf")]])
def test_spread_rejects_what_is_not_a_list_of_numbers(bad):
    with pytest.raises(ValueError):
        spread(bad)


def test_over_seeds_stacks_numbers_sequences_and_dicts():
    assert over_seeds(lambda seed: seed * 0.5, [1, 2]).tolist() == [0.5, 1.0]
    assert over_seeds(lambda seed: (seed, -seed), range(2)).shape == (2, 2)
    runs = over_seeds(lambda seed: {"plain": seed, "dropout": 2 * seed}, [3, 4])
    assert runs["plain"].tolist() == [3, 4] and runs["dropout"].tolist() == [6, 8]


def test_over_seeds_passes_each_seed_once_in_order():
    seen = []
    over_seeds(lambda seed: seen.append(seed) or 0.0, [5, 3, 9])
    assert seen == [5, 3, 9]


@pytest.mark.parametrize("seeds", [[], [True], [1.5]])
def test_over_seeds_wants_int_seeds(seeds):
    with pytest.raises(ValueError):
        over_seeds(lambda seed: 0.0, seeds)


def test_over_seeds_rejects_mismatched_keys_and_nan():
    with pytest.raises(ValueError):
        over_seeds(lambda seed: {"a": 1.0} if seed else {"b": 1.0}, [0, 1])
    with pytest.raises(ValueError):
        over_seeds(lambda seed: float("nan"), [0])
