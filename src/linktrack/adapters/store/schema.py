"""The SQL schema (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Every timestamp is a float of seconds since the Unix epoch (UTC): one
representation on both databases, and hour buckets are plain integer
arithmetic (`int(ts // 3600) * 3600`) with no time-zone or dialect functions.

The click/open tables and the rollups carry ids without foreign keys: the
writer only writes rows for deliveries it has just looked up, and an FK probe
per row would double the index work on the hottest write path.
"""

from __future__ import annotations

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


def _count(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")


workspaces = sa.Table(
    "workspaces",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("site_id", sa.String(32), nullable=False, unique=True),
    sa.Column("settings", sa.JSON(), nullable=False),
    _ts("created_at"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column(
        "workspace_id",
        sa.Integer(),
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    _ts("created_at"),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(16), primary_key=True),
    sa.Column(
        "workspace_id",
        sa.Integer(),
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("secret", sa.String(128), nullable=False),
    _ts("created_at"),
    _ts("retired_at", nullable=True),
)

people = sa.Table(
    "people",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column(
        "workspace_id",
        sa.Integer(),
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
    ),
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
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column(
        "workspace_id",
        sa.Integer(),
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
    ),
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
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column(
        "message_id",
        sa.Integer(),
        sa.ForeignKey("messages.id", ondelete="CASCADE"),
        nullable=False,
    ),
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
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column(
        "workspace_id",
        sa.Integer(),
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "message_id",
        sa.Integer(),
        sa.ForeignKey("messages.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "person_id",
        sa.Integer(),
        sa.ForeignKey("people.id", ondelete="SET NULL"),
        nullable=True,
    ),
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
    _ts("sent_at", nullable=True),
    _ts("opened_at", nullable=True),
    _ts("clicked_at", nullable=True),
    _ts("human_clicked_at", nullable=True),
    sa.Index(None, "message_id", "created_at"),
    sa.Index(None, "person_id", "created_at"),
    sa.Index(None, "workspace_id", "status", "created_at"),
)

clicks = sa.Table(
    "clicks",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(80), nullable=False, unique=True),
    sa.Column("workspace_id", sa.Integer(), nullable=False),
    sa.Column("message_id", sa.Integer(), nullable=False),
    sa.Column("delivery_id", sa.String(64), nullable=False),
    sa.Column("person_id", sa.Integer(), nullable=True),
    sa.Column("link_id", sa.Integer(), nullable=True),
    sa.Column("position", sa.Integer(), nullable=True),
    sa.Column("href", sa.Text(), nullable=False),
    _ts("ts"),
    sa.Column("user_agent", sa.Text(), nullable=False),
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("machine", sa.Boolean(), nullable=False),
    sa.Column("machine_reasons", sa.JSON(), nullable=False),
    sa.Column("source", sa.String(8), nullable=False),
    # Burst detection and a delivery's activity read a delivery's clicks by time.
    sa.Index(None, "delivery_id", "ts"),
    sa.Index(None, "message_id", "ts"),
    sa.Index(None, "workspace_id", "ts"),
    sa.Index(None, "person_id", "ts"),
)

opens = sa.Table(
    "opens",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(80), nullable=False, unique=True),
    sa.Column("workspace_id", sa.Integer(), nullable=False),
    sa.Column("message_id", sa.Integer(), nullable=False),
    sa.Column("delivery_id", sa.String(64), nullable=False),
    sa.Column("person_id", sa.Integer(), nullable=True),
    _ts("ts"),
    sa.Column("user_agent", sa.Text(), nullable=False),
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("machine", sa.Boolean(), nullable=False),
    sa.Column("machine_reasons", sa.JSON(), nullable=False),
    sa.Column("synthetic", sa.Boolean(), nullable=False),
    sa.Column("source", sa.String(8), nullable=False),
    sa.Index(None, "delivery_id", "ts"),
    sa.Index(None, "message_id", "ts"),
    sa.Index(None, "person_id", "ts"),
)

# Rollups below are written by the writer in the transaction that inserts the
# rows they count, and only for rows actually inserted (replays add nothing).

link_stats = sa.Table(
    "link_stats",
    metadata,
    sa.Column("message_id", sa.Integer(), primary_key=True),
    sa.Column("link_id", sa.Integer(), primary_key=True),
    _count("clicks_total"),
    _count("clicks_human"),
    _count("uniques_total"),
    _count("uniques_human"),
)

# One row per (message, hour, link). `uniques` counts the (delivery, link)
# pairs whose first click falls in the hour (human/machine: first human/machine
# click), so the uniques of any range of buckets add up without double counting.
link_buckets = sa.Table(
    "link_buckets",
    metadata,
    sa.Column("message_id", sa.Integer(), primary_key=True),
    sa.Column("bucket_start", sa.BigInteger(), primary_key=True),
    sa.Column("link_id", sa.Integer(), primary_key=True),
    _count("clicks"),
    _count("human_clicks"),
    _count("uniques"),
    _count("human_uniques"),
    _count("machine_uniques"),
)

# First clicks of each (delivery, link) pair: what makes a click "unique", and
# the index behind "people who clicked link X" segments.
delivery_links = sa.Table(
    "delivery_links",
    metadata,
    sa.Column("delivery_id", sa.String(64), primary_key=True),
    sa.Column("link_id", sa.Integer(), primary_key=True),
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
    sa.Column("message_id", sa.Integer(), primary_key=True),
    _count("status_queued"),
    _count("status_sent"),
    _count("status_failed"),
    _count("status_outbox"),
    _count("opened"),
    _count("clicked"),
    _count("human_clicked"),
)

consumer_offsets = sa.Table(
    "consumer_offsets",
    metadata,
    sa.Column("consumer", sa.String(64), primary_key=True),
    sa.Column("position", sa.String(128), nullable=True),
    _ts("updated_at"),
)

# -- channels (issue 4): short links for SMS/WhatsApp, SDK-reported conversions

# Codes are unique across workspaces: `/lnk.<code>` is resolved without knowing
# which workspace's short domain the request came to.
short_links = sa.Table(
    "short_links",
    metadata,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column(
        "workspace_id",
        sa.Integer(),
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("path", sa.Text(), nullable=False),  # the signed `/e/c/…` path it stands for
    _ts("created_at"),
    _ts("expires_at"),
    _count("expired_hits"),
    sa.Index(None, "expires_at"),
)

# The first conversion an app's SDK reported for a delivery (one per delivery:
# a retried report adds nothing). Read by message metrics as `converted`.
conversions = sa.Table(
    "conversions",
    metadata,
    sa.Column("delivery_id", sa.String(64), primary_key=True),
    sa.Column("workspace_id", sa.Integer(), nullable=False),
    sa.Column("message_id", sa.Integer(), nullable=False),
    sa.Column("person_id", sa.Integer(), nullable=True),
    _ts("ts"),
    sa.Column("source", sa.String(8), nullable=False),
    sa.Index(None, "message_id"),
)

# -- message kinds (issue 4): campaigns, broadcasts, newsletters and their send jobs

# A campaign, API-triggered broadcast or newsletter. Its actions (newsletter:
# contents) are `messages` rows of the same kind whose `parent_id` is its id.
containers = sa.Table(
    "containers",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column(
        "workspace_id",
        sa.Integer(),
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
    ),
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
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("workspace_id", sa.Integer(), nullable=False),
    sa.Column(
        "container_id",
        sa.Integer(),
        sa.ForeignKey("containers.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("status", sa.String(16), nullable=False),
    _count("total"),
    _count("sent"),
    _count("failed"),
    _count("skipped"),
    sa.Column("audience", sa.JSON(), nullable=False),
    sa.Column("errors", sa.JSON(), nullable=False),
    _ts("created_at"),
    _ts("finished_at", nullable=True),
)
