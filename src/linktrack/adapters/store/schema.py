"""The SQL schema (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Every timestamp is a float of seconds since the Unix epoch (UTC): one
representation on both databases, and hour buckets are plain integer
arithmetic (`int(ts // 3600) * 3600`) with no time-zone or dialect functions.

It is one concept, the tables and what each column means, so it stays one module
past 400 lines.

The click/open tables and the rollups carry ids without foreign keys: the
writer only writes rows for deliveries it has just looked up, and an FK probe
per row would double the index work on the hottest write path.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

# Named constraints keep future Alembic batch migrations on SQLite deterministic.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING)

Ts = sa.Double
# A 64-bit id on PostgreSQL; SQLite only auto-increments a column typed INTEGER.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = False) -> sa.Column[float]:
    return sa.Column(name, Ts(), nullable=nullable)


def _counts(*names: str) -> list[sa.Column[int]]:
    """Counters that start at zero."""
    return [sa.Column(name, sa.BigInteger(), nullable=False, server_default="0") for name in names]


def _key(name: str, type_: sa.types.TypeEngine[Any] | None = None) -> sa.Column[Any]:
    """A primary-key column (the key, or a part of it), integer unless typed."""
    return sa.Column(name, sa.Integer() if type_ is None else type_, primary_key=True)


def _id() -> sa.Column[int]:
    """The table's own auto-incremented integer key."""
    return sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True)


def _ref(
    name: str,
    parent: str,
    *,
    ondelete: str = "CASCADE",
    nullable: bool = False,
    index: bool | None = None,
) -> sa.Column[int]:
    """A foreign key to `parent`.id: by default required, and deleted with its parent."""
    return sa.Column(
        name,
        sa.Integer(),
        sa.ForeignKey(f"{parent}.id", ondelete=ondelete),
        nullable=nullable,
        index=index,
    )


def _event_ids() -> list[sa.Column[Any]]:
    """The ids a click or an open row starts with: its own, then its delivery's (no
    foreign keys: see the module docstring)."""
    return [
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(80), nullable=False, unique=True),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
    ]


def _request() -> list[sa.Column[Any]]:
    """When and from where a click or an open came: its time, User-Agent and address."""
    return [
        _ts("ts"),
        sa.Column("user_agent", sa.Text(), nullable=False),
        sa.Column("ip", sa.String(64), nullable=True),
    ]


def _verdict() -> list[sa.Column[Any]]:
    """The bot verdict a click or an open is stored with (see core.bots)."""
    return [
        sa.Column("machine", sa.Boolean(), nullable=False),
        sa.Column("machine_reasons", sa.JSON(), nullable=False),
    ]


def _by_time(*columns: str) -> list[sa.Index]:
    """An index on (column, ts) for each column: a delivery's (message's, …) events by time."""
    return [sa.Index(None, column, "ts") for column in columns]


workspaces = sa.Table(
    "workspaces",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("site_id", sa.String(32), nullable=False, unique=True),
    sa.Column("settings", sa.JSON(), nullable=False),
    _ts("created_at"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    _id(),
    _ref("workspace_id", "workspaces", index=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    _ts("created_at"),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    _key("kid", sa.String(16)),
    _ref("workspace_id", "workspaces", index=True),
    sa.Column("secret", sa.String(128), nullable=False),
    _ts("created_at"),
    _ts("retired_at", nullable=True),
)

people = sa.Table(
    "people",
    metadata,
    _id(),
    _ref("workspace_id", "workspaces"),
    sa.Column("cio_id", sa.String(32), nullable=False, unique=True),
    sa.Column("external_id", sa.String(255), nullable=True),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("phone", sa.String(64), nullable=True),
    sa.Column("attributes", sa.JSON(), nullable=False),
    sa.Column("unsubscribed", sa.Boolean(), nullable=False, server_default=sa.false()),
    _ts("created_at"),
    _ts("updated_at"),
    sa.UniqueConstraint("workspace_id", "external_id"),
    sa.UniqueConstraint("workspace_id", "email"),
    # The dashboard's People list: a workspace's people newest first, a page at a time.
    sa.Index(None, "workspace_id", "id"),
)

messages = sa.Table(
    "messages",
    metadata,
    _id(),
    _ref("workspace_id", "workspaces"),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("parent_id", sa.Integer(), nullable=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("subject", sa.Text(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("body_plain", sa.Text(), nullable=False),
    sa.Column("from_addr", sa.String(320), nullable=False),
    sa.Column("tracked", sa.Boolean(), nullable=False),
    sa.Column("extra", sa.JSON(), nullable=False),
    _ts("created_at"),
    sa.Index(None, "workspace_id", "kind"),
)

links = sa.Table(
    "links",
    metadata,
    _id(),
    _ref("message_id", "messages"),
    sa.Column("key", sa.Text(), nullable=False),
    # Uniqueness is on a hash of the key: a btree entry on PostgreSQL must stay
    # under ~2.7 kB and a URL key may be longer.
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("href", sa.Text(), nullable=False),
    sa.Column("tag", sa.String(255), nullable=True),
    _ts("created_at"),
    sa.UniqueConstraint("message_id", "key_hash"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    _key("id", sa.String(64)),
    _ref("workspace_id", "workspaces"),
    _ref("message_id", "messages"),
    _ref("person_id", "people", ondelete="SET NULL", nullable=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("subject", sa.Text(), nullable=False),
    sa.Column("body", sa.Text(), nullable=True),
    sa.Column("body_plain", sa.Text(), nullable=True),
    sa.Column("settings", sa.JSON(), nullable=False),
    sa.Column("warnings", sa.JSON(), nullable=False),
    # The message's links that appear in this delivery (null: not recorded).
    sa.Column("link_ids", sa.JSON(), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    _ts("created_at"),
    # A scheduled delivery's time: the delivery worker queues it then (status `scheduled`).
    _ts("send_at", nullable=True),
    _ts("sent_at", nullable=True),
    _ts("opened_at", nullable=True),
    _ts("clicked_at", nullable=True),
    _ts("human_clicked_at", nullable=True),
    sa.Index(None, "message_id", "created_at"),
    sa.Index(None, "person_id", "created_at"),
    sa.Index(None, "workspace_id", "status", "created_at"),
    sa.Index(None, "status", "send_at"),
)

clicks = sa.Table(
    "clicks",
    metadata,
    *_event_ids(),
    sa.Column("link_id", sa.Integer(), nullable=True),
    sa.Column("position", sa.Integer(), nullable=True),
    sa.Column("href", sa.Text(), nullable=False),
    *_request(),
    sa.Column("method", sa.String(8), nullable=False),
    *_verdict(),
    sa.Column("source", sa.String(8), nullable=False),
    # Burst detection and a delivery's activity read a delivery's clicks by time.
    *_by_time("delivery_id", "message_id", "workspace_id", "person_id"),
)

opens = sa.Table(
    "opens",
    metadata,
    *_event_ids(),
    *_request(),
    *_verdict(),
    sa.Column("synthetic", sa.Boolean(), nullable=False),
    sa.Column("source", sa.String(8), nullable=False),
    *_by_time("delivery_id", "message_id", "person_id"),
)

# Rollups below are written by the writer in the transaction that inserts the
# rows they count, and only for rows actually inserted (replays add nothing).

link_stats = sa.Table(
    "link_stats",
    metadata,
    _key("message_id"),
    _key("link_id"),
    *_counts("clicks_total", "clicks_human", "uniques_total", "uniques_human"),
)

# One row per (message, hour, link). `uniques` counts the (delivery, link)
# pairs whose first click falls in the hour (human/machine: first human/machine
# click), so the uniques of any range of buckets add up without double counting.
link_buckets = sa.Table(
    "link_buckets",
    metadata,
    _key("message_id"),
    _key("bucket_start", sa.BigInteger()),
    _key("link_id"),
    *_counts("clicks", "human_clicks", "uniques", "human_uniques", "machine_uniques"),
)

# First clicks of each (delivery, link) pair: what makes a click "unique", and
# the index behind "people who clicked link X" segments.
delivery_links = sa.Table(
    "delivery_links",
    metadata,
    _key("delivery_id", sa.String(64)),
    _key("link_id"),
    sa.Column("message_id", sa.Integer(), nullable=False),
    sa.Column("person_id", sa.Integer(), nullable=True),
    _ts("first_ts"),
    _ts("first_human_ts", nullable=True),
    _ts("first_machine_ts", nullable=True),
    sa.Index(None, "link_id", "person_id", "first_human_ts"),
)

# Per-message delivery counters, kept by the repo (status changes) and the
# writer (first open/click), so message metrics never count deliveries.
message_stats = sa.Table(
    "message_stats",
    metadata,
    _key("message_id"),
    *_counts(
        "status_queued",
        "status_sent",
        "status_failed",
        "status_outbox",
        "status_scheduled",
        "opened",
        "clicked",
        "human_clicked",
    ),
)

consumer_offsets = sa.Table(
    "consumer_offsets",
    metadata,
    _key("consumer", sa.String(64)),
    sa.Column("position", sa.String(128), nullable=True),
    _ts("updated_at"),
    # What the writer last said of itself (service.progress): seconds behind the
    # log, its rate, and when (a writer that stops saying so is stalled).
    sa.Column("lag_seconds", sa.Double(), nullable=True),
    sa.Column("events_per_second", sa.Double(), nullable=True),
    _ts("heartbeat_at", nullable=True),
)

# -- channels: short links for SMS/WhatsApp, reports of deliveries

# Codes are unique across workspaces: `/lnk.<code>` is resolved without knowing
# which workspace's short domain the request came to.
short_links = sa.Table(
    "short_links",
    metadata,
    _key("code", sa.String(32)),
    _ref("workspace_id", "workspaces", index=True),
    sa.Column("path", sa.Text(), nullable=False),  # the signed `/e/c/…` path it stands for
    _ts("created_at"),
    _ts("expires_at"),
    *_counts("expired_hits"),
    sa.Index(None, "expires_at"),
)

# What an app or a relay reported of a delivery through the Track API (`converted`,
# `bounced`, `spammed`, `dropped`, `deferred`): the first report of each metric per
# delivery (a retried report adds nothing). Read by message metrics, one count each.
delivery_reports = sa.Table(
    "delivery_reports",
    metadata,
    _key("delivery_id", sa.String(64)),
    _key("metric", sa.String(16)),
    sa.Column("workspace_id", sa.Integer(), nullable=False),
    sa.Column("message_id", sa.Integer(), nullable=False),
    sa.Column("person_id", sa.Integer(), nullable=True),
    _ts("ts"),
    sa.Column("reason", sa.Text(), nullable=True),
    sa.Column("source", sa.String(8), nullable=False),
    sa.Index(None, "message_id", "metric"),
)

# -- reporting webhooks: every click, open, send and failure, POSTed to the workspace's endpoints

reporting_webhooks = sa.Table(
    "reporting_webhooks",
    metadata,
    _id(),
    _ref("workspace_id", "workspaces", index=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("endpoint", sa.Text(), nullable=False),
    sa.Column("events", sa.JSON(), nullable=False),  # metric names: email_clicked, …
    sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("signing_key", sa.String(64), nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
)

# The outbox of reporting webhooks: one row per (webhook, event), written in the
# transaction that stores what it reports (a replay adds nothing), sent in id order
# per webhook, kept with its attempts and last error.
webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    _ref("webhook_id", "reporting_webhooks"),
    sa.Column("event_id", sa.String(96), nullable=False),
    sa.Column("metric", sa.String(32), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),  # the envelope, as POSTed
    _ts("created_at"),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    _ts("next_attempt_at"),
    sa.Column("last_error", sa.Text(), nullable=True),
    # pending, delivered, or failed (refused for 3 days)
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    _ts("done_at", nullable=True),
    sa.UniqueConstraint("webhook_id", "event_id"),
    sa.Index(None, "webhook_id", "status", "id"),
)

# -- people's devices and suppressed identifiers (Track API)

# A person's push devices: a token belongs to one person of a workspace (adding it
# to another moves it). A push goes to the person's most recently used device.
devices = sa.Table(
    "devices",
    metadata,
    _id(),
    _ref("workspace_id", "workspaces"),
    _ref("person_id", "people"),
    sa.Column("token", sa.String(255), nullable=False),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("attributes", sa.JSON(), nullable=False),
    _ts("last_used"),
    _ts("created_at"),
    sa.UniqueConstraint("workspace_id", "token"),
    sa.Index(None, "person_id", "last_used"),
)

# Identifiers a suppress call removed: no person is created for them again until
# they are unsuppressed. One call suppresses a person's id, email and cio_id
# together (`batch`), and unsuppressing any of them frees them all.
suppressions = sa.Table(
    "suppressions",
    metadata,
    _id(),
    _ref("workspace_id", "workspaces"),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("value", sa.String(320), nullable=False),
    sa.Column("batch", sa.String(32), nullable=False, index=True),
    _ts("created_at"),
    sa.UniqueConstraint("workspace_id", "kind", "value"),
)

# -- campaigns, broadcasts, newsletters and their send jobs

# A campaign, API-triggered broadcast or newsletter. Its actions (newsletter:
# contents) are `messages` rows of the same kind whose `parent_id` is its id.
containers = sa.Table(
    "containers",
    metadata,
    _id(),
    _ref("workspace_id", "workspaces"),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("extra", sa.JSON(), nullable=False),
    _ts("created_at"),
    sa.Index(None, "workspace_id", "kind"),
)

# One broadcast trigger or newsletter send: counts are of people, kept in the
# transaction that records their deliveries.
send_jobs = sa.Table(
    "send_jobs",
    metadata,
    _id(),
    sa.Column("workspace_id", sa.Integer(), nullable=False),
    _ref("container_id", "containers", index=True),
    sa.Column("status", sa.String(16), nullable=False),
    *_counts("total", "sent", "failed", "skipped"),
    sa.Column("audience", sa.JSON(), nullable=False),
    sa.Column("errors", sa.JSON(), nullable=False),
    _ts("created_at"),
    _ts("finished_at", nullable=True),
)

# -- segments

# A segment's conditions as given (core.segments: clicked_link, attribute, and, or);
# who is in it is read from delivery_links and people when asked, never stored.
segments = sa.Table(
    "segments",
    metadata,
    _id(),
    _ref("workspace_id", "workspaces", index=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("conditions", sa.JSON(), nullable=False),
    _ts("created_at"),
)

# -- the dashboard

# A person who logs in to the dashboard: one workspace's data, never another's.
# The password is kept only as an argon2 hash (service.accounts).
dashboard_users = sa.Table(
    "dashboard_users",
    metadata,
    _id(),
    _ref("workspace_id", "workspaces", index=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text(), nullable=False),
    _ts("created_at"),
)

# The key that signs dashboard session cookies: one row, made by the first
# process that needs it, so every process of a store signs alike.
dashboard_secrets = sa.Table(
    "dashboard_secrets",
    metadata,
    _key("id"),
    sa.Column("secret", sa.String(128), nullable=False),
    _ts("created_at"),
)
