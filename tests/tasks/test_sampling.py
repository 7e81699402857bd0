from humanllm.tasks.sampling import quotas, sample_cell, split_users


def test_quotas_fill_equal_caps_to_the_total() -> None:
    sizes = {"a": 5, "b": 100, "c": 100, "d": 30}
    take = quotas(sizes, 100, seed=1)
    assert sum(take.values()) == 100
    assert take["a"] == 5 and take["d"] == 30  # small cells give everything
    assert sorted((take["b"], take["c"])) == [32, 33]  # the rest is shared equally
    assert all(take[k] <= sizes[k] for k in sizes)


def test_quotas_keep_everything_without_a_total_or_when_it_covers_all() -> None:
    sizes = {"a": 3, "b": 7}
    assert quotas(sizes, None) == sizes
    assert quotas(sizes, 10) == sizes and quotas(sizes, 50) == sizes
    assert quotas({"a": 0, "b": 4}, 2) == {"a": 0, "b": 2}


def test_quotas_with_equal_cells_differ_by_at_most_one() -> None:
    take = quotas({k: 1000 for k in "abcdefg"}, 100, seed=3)
    assert sum(take.values()) == 100 and max(take.values()) - min(take.values()) == 1
    assert take == quotas({k: 1000 for k in "abcdefg"}, 100, seed=3)


def test_split_users_by_source_with_clamps() -> None:
    users = [("r", f"u{i}") for i in range(100)] + [("a", "x"), ("a", "y")] + [("b", "z")]
    test = split_users(users, 0.1, seed=0)
    assert len([u for u in test if u[0] == "r"]) == 10
    assert len([u for u in test if u[0] == "a"]) == 1  # at least one test user ...
    assert not [u for u in test if u[0] == "b"]  # ... but never a source's only user
    assert split_users(users, 0.1, seed=0) == test
    assert split_users(users, 0.1, seed=1) != test
    assert split_users(users, 0.0, seed=0) == set()
    assert split_users(reversed(users), 0.1, seed=0) == test  # order of input does not matter


def test_sample_cell_is_seeded_and_keeps_order() -> None:
    rows = list(range(50))
    got = sample_cell(rows, 10, 0, "train", "t", "s")
    assert got == sorted(got) and len(set(got)) == 10
    assert got == sample_cell(rows, 10, 0, "train", "t", "s")
    assert got != sample_cell(rows, 10, 0, "test", "t", "s")
    assert sample_cell(rows, 60, 0) == rows
