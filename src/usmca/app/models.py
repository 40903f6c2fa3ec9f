"""The application database schema (SQLAlchemy 2 declarative models).

Records that are evidence (determinations, certificates, bill versions, the archive ledger and the audit
log) are append-only; the migration installs database triggers that refuse UPDATE and DELETE on them, so the
guarantee holds for any client, not just this code. JSON payloads are stored as canonical text (sorted keys,
no spaces) so their hashes can be recomputed byte for byte on any database.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ROLES = ("viewer", "analyst", "admin")

# Tables whose rows may never be changed or removed once written.
IMMUTABLE_TABLES = ("bill_versions", "determinations", "certificates", "archives", "audit_log")
# Tables whose rows may be updated (a role change, a key revoked, a job's progress) but never deleted.
NO_DELETE_TABLES = ("users", "api_keys", "products", "jobs")


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[str] = mapped_column(String(40))
    disabled: Mapped[int] = mapped_column(Integer, default=0)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(40))
    revoked_at: Mapped[str | None] = mapped_column(String(40), nullable=True)


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)  # the good's id (SKU), or hts|description
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    hts: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(80))


class BillVersion(Base):
    __tablename__ = "bill_versions"
    __table_args__ = (UniqueConstraint("product_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    version: Mapped[int] = mapped_column(Integer)
    bill_hash: Mapped[str] = mapped_column(String(64))
    bill_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(80))


class DeterminationRecord(Base):
    __tablename__ = "determinations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    bill_version_id: Mapped[int] = mapped_column(ForeignKey("bill_versions.id"))
    inputs_hash: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20))
    criterion: Mapped[str | None] = mapped_column(String(1), nullable=True)
    rule_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    rules_vintage: Mapped[str | None] = mapped_column(String(80), nullable=True)
    data_vintage: Mapped[str | None] = mapped_column(String(80), nullable=True)
    case_json: Mapped[str] = mapped_column(Text)
    result_json: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(80))


class Certificate(Base):
    __tablename__ = "certificates"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    determination_id: Mapped[int] = mapped_column(ForeignKey("determinations.id"))
    elements_json: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(80))


class Archive(Base):
    """Archiving instead of deletion: a row here hides a record from default lists; the record stays."""

    __tablename__ = "archives"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(80))


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # contiguous 1..n
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(40))
    detail_json: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Job(Base):
    """A background job (portfolio run): its state changes as it runs, so it is not immutable."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))  # queued | running | done | failed
    params_json: Mapped[str] = mapped_column(Text)
    result_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(80))
    finished_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
