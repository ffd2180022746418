"""The stand-in's JQL parser: the grammar it accepts and Jira's wording when it refuses."""

from __future__ import annotations

import pytest

from sandbox.jira.jql import (
    And,
    Clause,
    Empty,
    Function,
    JqlError,
    Literal,
    Not,
    Or,
    SortKey,
    ValueList,
    parse,
)


class TestParse:
    def test_simple_clause(self) -> None:
        """A field, an operator and a bare value make a clause."""
        query = parse("project = MODREQ")
        assert query.where == Clause("project", "=", Literal("MODREQ"), 0)
        assert query.order == ()

    def test_and_binds_tighter_than_or(self) -> None:
        """`a OR b AND c` groups as `a OR (b AND c)`, as in Jira."""
        where = parse("status = Open OR labels = x AND project = A").where
        assert isinstance(where, Or)
        assert isinstance(where.parts[1], And)

    def test_parentheses_and_not(self) -> None:
        """Parentheses group and NOT negates."""
        where = parse('NOT (status = "In review" OR status = Done)').where
        assert isinstance(where, Not)
        assert isinstance(where.part, Or)

    def test_lists_functions_and_empty(self) -> None:
        """IN takes a list; functions and EMPTY are values of their own."""
        where = parse("key in (A-1, 'A-2') AND assignee = currentUser() AND duedate is EMPTY").where
        assert isinstance(where, And)
        first, second, third = where.parts
        assert first == Clause("key", "IN", ValueList((Literal("A-1"), Literal("A-2", True))), 0)
        assert isinstance(second, Clause) and second.value == Function("currentUser")
        assert isinstance(third, Clause) and third.op == "IS" and third.value == Empty()

    def test_quoted_values_keep_spaces_and_escapes(self) -> None:
        """Quoted strings may hold spaces, slashes and escaped quotes."""
        clause = parse('updated >= "2026/11/27 10:00" AND summary ~ "say \\"hi\\""').where
        assert isinstance(clause, And)
        assert clause.parts[0] == Clause("updated", ">=", Literal("2026/11/27 10:00", True), 0)
        second = clause.parts[1]
        assert isinstance(second, Clause) and second.value == Literal('say "hi"', True)

    def test_not_in_and_is_not(self) -> None:
        """Two-word operators are recognised."""
        where = parse("status not in (Done, Rejected) and resolution is not empty").where
        assert isinstance(where, And)
        assert [p.op for p in where.parts if isinstance(p, Clause)] == ["NOT IN", "IS NOT"]

    def test_order_by(self) -> None:
        """ORDER BY keys keep their directions; ASC is the default."""
        query = parse("project = A ORDER BY updated DESC, key")
        assert query.order == (SortKey("updated", True), SortKey("key", False))

    def test_order_by_alone(self) -> None:
        """A query may be only an ORDER BY (search/jql refuses it later as unbounded)."""
        assert parse("ORDER BY created").where is None


class TestErrors:
    @pytest.mark.parametrize(
        ("jql", "fragment"),
        [
            ("project MODREQ", "Expecting operator but got 'MODREQ'"),
            ("project = ", "Expecting either a value, list or function but got the end"),
            ("project = A AND", "Expecting a field name but got the end of the query"),
            ("(project = A", "Expecting ')' but got the end of the query"),
            ("project = A B", "Expecting either 'OR' or 'AND' but got 'B'"),
            ('summary ~ "open', "is not closed"),
            ("key in A-1", "Expecting '(' but got 'A-1'"),
            ("status is Open", "Expecting 'EMPTY' or 'NULL' after 'IS'"),
        ],
    )
    def test_jira_wording(self, jql: str, fragment: str) -> None:
        """Syntax errors read like Jira's: prefix, the problem, and the position."""
        with pytest.raises(JqlError) as caught:
            parse(jql)
        message = str(caught.value)
        assert message.startswith("Error in the JQL Query: ")
        assert fragment in message
        assert "(line 1, character " in message
