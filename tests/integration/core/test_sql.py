"""`in_list`: one bound list, any length, on both databases, searched by index."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from kuota.core.db import Database, run
from kuota.core.sql import in_list
from kuota.usage.models import CreditControlAnswer
from kuota.usage.network import _STORED_ANSWERS

AT = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
_PICK = select(CreditControlAnswer.session_id).where(
    in_list(CreditControlAnswer.session_id, "ids"),
    in_list(CreditControlAnswer.request_number, "numbers"),
)


@pytest.fixture
def answers(db: Database) -> Database:
    with db.unit_of_work() as s:
        s.execute(
            insert(CreditControlAnswer),
            [
                {"session_id": f"s{n}", "request_number": n, "answer": "{}", "created_at": AT}
                for n in (1, 2, 3, 2**31 - 1)
            ],
        )
    return db


def pick(db: Database, ids: list[str], numbers: list[int]) -> list[str]:
    with db.unit_of_work(write=False) as s:
        return sorted(run(s, _PICK, {"ids": ids, "numbers": numbers}).scalars())


def test_lists_of_any_length_pick_their_rows(answers: Database) -> None:
    assert pick(answers, ["s1", "s3", "nobody"], [1, 2, 3]) == ["s1", "s3"]
    assert pick(answers, ["s1"], [1]) == ["s1"]
    assert pick(answers, [], [1, 2, 3]) == []
    assert pick(answers, [f"s{2**31 - 1}"], [2**31 - 1]) == [f"s{2**31 - 1}"]
    many = [f"s{n}" for n in range(5000)]  # past any driver's parameter limit
    assert pick(answers, many, list(range(5000))) == ["s1", "s2", "s3"]


def test_text_that_looks_like_json_or_sql_is_only_a_value(answers: Database) -> None:
    assert pick(answers, ['s1"]', "s1') OR 1=1 --", "[1]"], [1]) == []


def test_none_is_refused(answers: Database) -> None:
    with (
        pytest.raises(Exception, match="in_list needs a list"),
        answers.unit_of_work(write=False) as s,
    ):
        run(s, _PICK, {"ids": None, "numbers": [1]})


def test_sqlite_searches_the_key_for_each_value(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("the plan checked is SQLite's; PostgreSQL's = ANY(array) is an index scan")
    with db.unit_of_work(write=False) as s:
        compiled = _STORED_ANSWERS.compile(dialect=s.connection().dialect)
        plan = " ".join(
            str(row[-1])
            for row in s.connection().exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled.string}", ('["a"]', "[1]")
            )
        )
    assert "SEARCH credit_control_answers USING INDEX" in plan, plan
    assert "SCAN credit_control_answers" not in plan, plan
