import hashlib

from humanllm.tasks.sampling import (
    HASH_SPACE,
    UserSplit,
    bucket_of,
    key_hash,
    quotas,
    sample_cell,
    split_users,
)


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


def test_key_hash_is_blake2b_of_the_joined_parts() -> None:
    want = hashlib.blake2b("7\x1fsample\x1fé".encode(), digest_size=8).digest()
    assert key_hash(7, "sample", "é") == int.from_bytes(want, "big")
    assert 0 <= key_hash("x") < HASH_SPACE and key_hash("a", "b") != key_hash("ab")
    assert {bucket_of("reddit", f"u{i}", 5) for i in range(100)} == set(range(5))


def test_split_users_by_a_hash_threshold_with_clamps() -> None:
    users = [("r", f"u{i}") for i in range(400)] + [("a", "x"), ("a", "y")] + [("b", "z")]
    test = split_users(users, 0.1, seed=0)
    cut = 0.1 * HASH_SPACE
    hashed = UserSplit(0.1, 0)
    assert {u for u in test if u[0] == "r"} == {  # a user's own hash decides: no clamp needed
        u for u in users if u[0] == "r" and hashed.user_hash(*u) < cut
    }
    assert 20 <= len([u for u in test if u[0] == "r"]) <= 60
    assert len([u for u in test if u[0] == "a"]) == 1  # at least one test user ...
    assert not [u for u in test if u[0] == "b"]  # ... but never a source's only user
    assert len(split_users([("a", "x"), ("a", "y")], 0.99, seed=0)) == 1  # one stays in training
    assert split_users(users, 0.1, seed=0) == test
    assert split_users(users, 0.1, seed=1) != test
    assert split_users(users, 0.0, seed=0) == set()
    assert split_users(reversed(users), 0.1, seed=0) == test  # order of input does not matter


def test_split_of_a_user_does_not_depend_on_who_is_read_with_it() -> None:
    users = [("r", f"u{i}") for i in range(50)] + [("a", "x"), ("a", "y")]
    whole = UserSplit(0.2, 3)
    whole.test_users(users)
    parts = UserSplit(0.2, 3)  # observed bucket by bucket, in another order
    for b in range(4):
        for u in reversed(users):
            if bucket_of(*u, 4) == b:
                parts.observe(*u)
    assert [parts.is_test(*u) for u in users] == [whole.is_test(*u) for u in users]


def test_sample_cell_is_seeded_and_keeps_order() -> None:
    rows = list(range(50))
    got = sample_cell(rows, 10, 0, "train", "t", "s")
    assert got == sorted(got) and len(set(got)) == 10
    assert got == sample_cell(rows, 10, 0, "train", "t", "s")
    assert got != sample_cell(rows, 10, 0, "test", "t", "s")
    assert sample_cell(rows, 60, 0) == rows
