"""Initial schema: users, api keys, products, bill versions, determinations, certificates, archives, audit
log,
jobs; and the triggers that make evidence tables append-only at the database level.

Revision ID: 0001 Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

IMMUTABLE = ("bill_versions", "determinations", "certificates", "archives", "audit_log")
NO_DELETE = ("users", "api_keys", "products", "jobs")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(40), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(80), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        _ts("created_at"),
        sa.Column("disabled", sa.Integer, nullable=False, server_default="0"),
        sa.CheckConstraint("role IN ('viewer', 'analyst', 'admin')", name="ck_users_role"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False, index=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        _ts("created_at"),
        _ts("revoked_at", nullable=True),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("hts", sa.String(12), nullable=False),
        _ts("created_at"),
        sa.Column("created_by", sa.String(80), nullable=False),
    )
    op.create_table(
        "bill_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("product_id", sa.Integer, sa.ForeignKey("products.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("bill_hash", sa.String(64), nullable=False),
        sa.Column("bill_json", sa.Text, nullable=False),
        _ts("created_at"),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.UniqueConstraint("product_id", "version"),
    )
    op.create_table(
        "determinations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("product_id", sa.Integer, sa.ForeignKey("products.id"), nullable=False),
        sa.Column("bill_version_id", sa.Integer, sa.ForeignKey("bill_versions.id"), nullable=False),
        sa.Column("inputs_hash", sa.String(64), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("criterion", sa.String(1), nullable=True),
        sa.Column("rule_id", sa.String(80), nullable=True),
        sa.Column("rules_vintage", sa.String(80), nullable=True),
        sa.Column("data_vintage", sa.String(80), nullable=True),
        sa.Column("case_json", sa.Text, nullable=False),
        sa.Column("result_json", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        _ts("created_at"),
        sa.Column("created_by", sa.String(80), nullable=False),
    )
    op.create_index("ix_determinations_product", "determinations", ["product_id", "id"])
    op.create_table(
        "certificates",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("determination_id", sa.Integer, sa.ForeignKey("determinations.id"), nullable=False),
        sa.Column("elements_json", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        _ts("created_at"),
        sa.Column("created_by", sa.String(80), nullable=False),
    )
    op.create_table(
        "archives",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("object_type", sa.String(40), nullable=False),
        sa.Column("object_id", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        _ts("created_at"),
        sa.Column("created_by", sa.String(80), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        _ts("at"),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("object_type", sa.String(40), nullable=False),
        sa.Column("object_id", sa.String(40), nullable=False),
        sa.Column("detail_json", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("params_json", sa.Text, nullable=False),
        sa.Column("result_json", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        _ts("created_at"),
        sa.Column("created_by", sa.String(80), nullable=False),
        _ts("finished_at", nullable=True),
    )
    _triggers()


def _triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in IMMUTABLE:
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {event} refused'); END"
                )
        for table in NO_DELETE:
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} rows are never deleted: archive instead'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION usmca_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        for table in IMMUTABLE:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION usmca_refuse_change()"
            )
        for table in (*IMMUTABLE, *NO_DELETE):
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION usmca_refuse_change()"
            )
        for table in NO_DELETE:
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION usmca_refuse_change()"
            )
    else:
        raise RuntimeError(f"unsupported application database {dialect!r}: use SQLite or PostgreSQL")


def downgrade() -> None:
    # Records are kept at least five years: there is no downgrade that drops them.
    raise RuntimeError("the initial schema cannot be downgraded: records are never dropped")
