"""The SQL store on SQLite and PostgreSQL: migrations, workspaces, keys, people, links, deliveries."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from linktrack.adapters import store
from linktrack.adapters.store import make_engine, metadata, migrate
from linktrack.adapters.store.engine import MIGRATIONS_DIR
from linktrack.adapters.store.reports import message_metrics
from linktrack.adapters.store.schema import api_keys, message_stats
from linktrack.core import errors

# ------------------------------------------------------------------ migrations


def _diff(eng: Engine, meta: sa.MetaData) -> list[object]:
    with eng.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(ctx, meta))


def test_migrations_build_exactly_the_declared_schema(engine: Engine) -> None:
    assert _diff(engine, metadata) == []
    # Constraint and index names too (Alembic's comparison ignores some of them).
    insp = sa.inspect(engine)
    for table in metadata.sorted_tables:
        have = {i["name"] for i in insp.get_indexes(table.name)}
        have |= {u["name"] for u in insp.get_unique_constraints(table.name)}
        have |= {f["name"] for f in insp.get_foreign_keys(table.name)}
        want = {i.name for i in table.indexes}
        want |= {
            c.name
            for c in table.constraints
            if isinstance(c, sa.UniqueConstraint | sa.ForeignKeyConstraint)
        }
        assert have == want, table.name


def test_the_schema_comparison_would_see_a_difference(engine: Engine) -> None:
    changed = sa.MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["clicks"].append_column(sa.Column("extra", sa.Integer()))
    sa.Index("ix_extra", changed.tables["links"].c.href)
    kinds = {d[0] for d in _diff(engine, changed) if isinstance(d, tuple)}
    assert {"add_column", "add_index"} <= kinds


def test_migrating_twice_is_harmless(db_url: str) -> None:
    migrate(db_url)
    migrate(db_url)
    eng = make_engine(db_url)
    heads = set(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())
    assert "0001" not in heads  # later revisions build on it
    with eng.connect() as conn:
        versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
        assert set(versions) == heads  # every branch is at its head
    eng.dispose()


def test_sqlite_engine_settings(sqlite_url: str) -> None:
    eng = make_engine(sqlite_url)
    with eng.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    eng.dispose()


# ------------------------------------------------------------------ workspaces


def test_workspace_api_keys_are_stored_hashed(engine: Engine) -> None:
    ws = store.create_workspace(engine, "Acme", {"add_cio_id": False})
    assert store.workspace_by_api_key(engine, "track", ws.track_api_key).id == ws.id  # type: ignore[union-attr]
    assert store.workspace_by_api_key(engine, "app", ws.app_api_key).id == ws.id  # type: ignore[union-attr]
    assert store.workspace_by_api_key(engine, "app", ws.track_api_key) is None
    assert store.workspace_by_api_key(engine, "app", "nope") is None
    with engine.connect() as conn:
        stored = conn.execute(sa.select(api_keys.c.key_hash)).scalars().all()
    assert ws.app_api_key not in stored and store.hash_key(ws.app_api_key) in stored
    found = store.workspace_by_site_id(engine, ws.site_id)
    assert found is not None and found.name == "Acme"
    assert store.get_settings(engine, ws.id) == {"add_cio_id": False}
    store.put_settings(engine, ws.id, {"open_tracking": False})
    assert store.get_settings(engine, ws.id) == {"open_tracking": False}
    with pytest.raises(errors.NotFoundError):
        store.put_settings(engine, 99999, {})
    with pytest.raises(errors.InvalidValueError):
        store.create_api_key(engine, ws.id, "admin")


def test_signing_keys_rotate_and_retire(engine: Engine) -> None:
    a = store.create_workspace(engine, "A")
    b = store.create_workspace(engine, "B")
    live = store.list_active_signing_keys(engine)
    assert {k.kid for k in live} == {a.kid, b.kid}
    assert all(len(k.kid) == 8 and len(k.secret_bytes) == 32 for k in live)
    with pytest.raises(errors.ConflictError):
        store.retire_signing_key(engine, a.id, a.kid)
    new = store.rotate_signing_key(engine, a.id)
    assert [k.kid for k in store.workspace_signing_keys(engine, a.id)] == [a.kid, new]
    with pytest.raises(errors.NotFoundError):
        store.retire_signing_key(engine, b.id, a.kid)  # not B's key
    store.retire_signing_key(engine, a.id, a.kid)
    assert {k.kid for k in store.list_active_signing_keys(engine)} == {new, b.kid}
    assert store.signing_key_workspaces(engine) == {a.kid: a.id, new: a.id, b.kid: b.id}


# ---------------------------------------------------------------------- people


def test_people_upsert_merge_and_identifiers(engine: Engine) -> None:
    ws = store.create_workspace(engine, "W")
    p = store.upsert_person(engine, ws.id, "u1", {"email": "Ann@Example.com", "plan": "pro"})
    assert (p.external_id, p.email, p.attributes) == ("u1", "ann@example.com", {"plan": "pro"})
    assert p.cio_id.isalnum()
    same = store.upsert_person(engine, ws.id, "ann@example.com", {"age": 3, "plan": None})
    assert same.id == p.id and same.attributes == {"age": 3}
    by_cio = store.get_person(engine, ws.id, f"cio_{p.cio_id}")
    assert by_cio is not None and by_cio.id == p.id
    assert store.upsert_person(engine, ws.id, f"cio_{p.cio_id}", {"phone": "+1555"}).phone == "+1555"
    assert store.get_person(engine, ws.id, ("email", "ANN@example.com")) is not None
    other = store.create_workspace(engine, "Other")
    assert store.get_person(engine, other.id, "u1") is None  # no data crosses workspaces
    with pytest.raises(errors.NotFoundError):
        store.upsert_person(engine, ws.id, "cio_unknown1")
    with pytest.raises(errors.InvalidValueError):
        store.get_person(engine, ws.id, "cio_a-b")
    store.upsert_person(engine, ws.id, "u2")
    with pytest.raises(errors.ConflictError):
        store.upsert_person(engine, ws.id, "u2", {"email": "ann@example.com"})
    assert store.person_activities(engine, ws.id, p.id) == []
    assert store.delete_person(engine, ws.id, "u2")
    assert store.get_person(engine, ws.id, "u2") is None


def test_person_creation_races_to_one_row(engine: Engine) -> None:
    ws = store.create_workspace(engine, "W")
    ids: list[int] = []
    errors: list[BaseException] = []

    def create() -> None:
        try:
            ids.append(store.upsert_person(engine, ws.id, "racer@example.com", {"x": 1}).id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(ids)) == 1


# ------------------------------------------------------------- messages, links


def test_messages_and_links(engine: Engine) -> None:
    ws = store.create_workspace(engine, "W")
    m = store.create_message(engine, ws.id, kind="transactional", channel="email", name="Welcome")
    assert store.get_message(engine, ws.id, m.id) == m
    assert store.get_message(engine, ws.id + 1, m.id) is None
    m2 = store.update_message(engine, ws.id, m.id, subject="Hi", tracked=False)
    assert (m2.subject, m2.tracked) == ("Hi", False)
    with pytest.raises(errors.InvalidValueError):
        store.update_message(engine, ws.id, m.id, kind="campaign")
    with pytest.raises(errors.InvalidValueError):
        store.create_message(engine, ws.id, kind="transactional", channel="fax")
    assert [x.id for x in store.list_messages(engine, ws.id, kind="transactional")] == [m.id]

    a = store.resolve_link(engine, m.id, "url:https://a.example/", "https://a.example/")
    assert store.resolve_link(engine, m.id, "url:https://a.example/", "https://other/") == a
    long_key = "url:https://a.example/?" + "q" * 6000  # too long for a plain btree key
    b = store.resolve_link(engine, m.id, long_key, long_key[4:], "TAG")
    assert b != a
    ids = store.resolve_links(
        engine,
        m.id,
        [(long_key, "", None), ("tag:X", "https://x/", "X"), ("url:https://a.example/", "", None)],
    )
    assert ids[0] == b and ids[2] == a
    other = store.create_message(engine, ws.id, kind="adhoc", channel="sms")
    assert store.resolve_link(engine, other.id, "url:https://a.example/", "https://a.example/") != a
    assert [link.id for link in store.list_links(engine, [m.id])] == sorted([a, b, ids[1]])


def test_resolve_link_is_race_safe(engine: Engine) -> None:
    ws = store.create_workspace(engine, "W")
    m = store.create_message(engine, ws.id, kind="campaign", channel="email")
    got: list[int] = []
    barrier = threading.Barrier(8)

    def resolve() -> None:
        barrier.wait()
        got.append(store.resolve_link(engine, m.id, "tpl:{{trigger.url}}", "https://p/1"))

    threads = [threading.Thread(target=resolve) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and len(set(got)) == 1


# ----------------------------------------------------------------- deliveries


def test_deliveries_statuses_and_counters(engine: Engine) -> None:
    ws = store.create_workspace(engine, "W")
    m = store.create_message(engine, ws.id, kind="transactional", channel="email")
    p = store.upsert_person(engine, ws.id, "u1", {"email": "u1@example.com"})
    la = store.resolve_link(engine, m.id, "url:https://a/", "https://a/")
    lb = store.resolve_link(engine, m.id, "url:https://b/", "https://b/")
    d1 = store.create_delivery(
        engine,
        workspace_id=ws.id,
        message_id=m.id,
        person_id=p.id,
        channel="email",
        recipient="u1@example.com",
        subject="S",
        body="<p>hi</p>",
        settings={"add_cio_id": True},
        warnings=["w"],
        link_ids=[la],
    )
    d2 = store.create_delivery(
        engine, workspace_id=ws.id, message_id=m.id, channel="email", recipient="x@example.com"
    )
    got = store.get_delivery(engine, ws.id, d1)
    assert got is not None and got.status == "queued" and got.sent_at is None
    assert [link.id for link in got.links] == [la]  # only the links recorded at send
    assert got.settings == {"add_cio_id": True} and got.warnings == ["w"]
    assert [link.id for link in store.get_delivery(engine, ws.id, d2).links] == [la, lb]  # type: ignore[union-attr]
    assert store.get_delivery(engine, ws.id + 1, d1) is None

    store.mark_delivery(engine, d1, "sent", at=123.0)
    store.mark_delivery(engine, d1, "sent", at=456.0)  # idempotent, keeps the first time
    store.mark_delivery(engine, d2, "failed", error="550 no such user")
    sent = store.get_delivery(engine, ws.id, d1)
    assert sent is not None and sent.sent_at == 123.0
    failed = store.get_delivery(engine, ws.id, d2)
    assert failed is not None and failed.error == "550 no such user"
    with pytest.raises(errors.NotFoundError):
        store.mark_delivery(engine, "nope", "sent")
    with pytest.raises(errors.InvalidValueError):
        store.mark_delivery(engine, d1, "bounced")
    with engine.connect() as conn:
        metrics = message_metrics(conn, [m.id])
        stats = conn.execute(sa.select(message_stats)).one()
    assert (stats.status_queued, stats.status_sent, stats.status_failed) == (0, 1, 1)
    assert (metrics["sent"], metrics["delivered"], metrics["failed"]) == (2, 1, 1)

    outbox = store.create_delivery(
        engine,
        workspace_id=ws.id,
        message_id=m.id,
        channel="email",
        recipient="o@x",
        status="outbox",
    )
    assert [d.id for d in store.list_deliveries(engine, ws.id, status="outbox")] == [outbox]
    assert {d.id for d in store.list_deliveries(engine, ws.id, message_id=m.id)} == {d1, d2, outbox}
    activity = store.person_activities(engine, ws.id, p.id)
    assert [(a.type, a.delivery_id, a.ts) for a in activity] == [("sent", d1, 123.0)]


def test_a_caller_owned_transaction_rolls_back_everything(engine: Engine) -> None:
    ws = store.create_workspace(engine, "W")
    with engine.connect() as conn:
        m = store.create_message(conn, ws.id, kind="adhoc", channel="sms")
        store.create_delivery(
            conn, workspace_id=ws.id, message_id=m.id, channel="sms", recipient="+1"
        )
        conn.rollback()
    assert store.list_messages(engine, ws.id) == []


def test_activities_page_by_keyset_through_equal_times(engine: Engine) -> None:
    ws = store.create_workspace(engine, "W")
    m = store.create_message(engine, ws.id, kind="transactional", channel="email")
    p = store.upsert_person(engine, ws.id, "u1", {"email": "u1@example.com"})
    # Ids whose order differs by case and collation; three at one time (one transaction).
    made = [("Zq", 100.0), ("aa", 100.0), ("Ab", 100.0), ("m1", 101.0), ("m2", 101.0),
            ("b", 99.0), ("B", 99.5)]  # fmt: skip
    for delivery_id, at in made:
        store.create_delivery(engine, workspace_id=ws.id, message_id=m.id, person_id=p.id,
                              channel="email", recipient="u1@example.com", created_at=at,
                              delivery_id=delivery_id,
                              status="failed" if delivery_id == "b" else "queued")  # fmt: skip
    whole = store.person_activities(engine, ws.id, p.id)
    assert sorted(a.delivery_id for a in whole) == sorted(d for d, _ in made)
    assert [a.ts for a in whole] == sorted((a.ts for a in whole), reverse=True)
    for size in (1, 2, 3):
        paged, after = [], None
        while True:
            page = store.person_activities(engine, ws.id, p.id, limit=size, after=after)
            paged += page
            if len(page) < size:
                break
            after = store.cursor_of(page[-1])
        assert [a.delivery_id for a in paged] == [a.delivery_id for a in whole], size
    failed = store.person_activities(engine, ws.id, p.id, kinds=["failed"])
    assert [(a.type, a.delivery_id) for a in failed] == [("failed", "b")]
    assert store.person_activities(engine, ws.id, p.id, channel="sms") == []
