"""The record keeper: users and keys, determinations, certificates, archiving and the hash-chained audit log.

Every write goes through here inside one transaction with its audit entry, so a record never exists without
the entry that says who wrote it and when. The audit log is a hash chain: entry n stores the hash of entry
n-1 and the hash of its own content; ``verify`` walks the chain and re-hashes every determination and
certificate, so an edit made behind the database triggers' back (or with them dropped) is found.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, cast, func, select, text
from sqlalchemy.orm import Session

from usmca.app import security
from usmca.app.db import now
from usmca.app.models import (
    ROLES,
    ApiKey,
    Archive,
    AuditEntry,
    BillVersion,
    Certificate,
    DeterminationRecord,
    Product,
    User,
)
from usmca.errors import InputError, NotFoundError

GENESIS = "0" * 64


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256(text_: str) -> str:
    return hashlib.sha256(text_.encode("utf-8")).hexdigest()


def _lock(s: Session) -> None:
    """Serialise writers on PostgreSQL (SQLite transactions already begin IMMEDIATE); released at commit."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(770007)"))


# --- audit chain --------------------------------------------------------------------------------------------


def _entry_hash(e: AuditEntry) -> str:
    return sha256(
        canonical(
            {
                "id": e.id,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "object_type": e.object_type,
                "object_id": e.object_id,
                "detail": e.detail_json,
                "prev_hash": e.prev_hash,
            }
        )
    )


def audit(
    s: Session,
    actor: str,
    action: str,
    object_type: str,
    object_id: object,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the chain (within the caller's transaction)."""
    _lock(s)
    head = s.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).scalar_one_or_none()
    e = AuditEntry(
        id=(head.id + 1) if head else 1,
        at=now(),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        detail_json=canonical(detail or {}),
        prev_hash=head.hash if head else GENESIS,
        hash="",
    )
    e.hash = _entry_hash(e)
    s.add(e)
    s.flush()
    return e


@dataclass
class AuditReport:
    ok: bool
    entries: int
    head: str
    determinations: int = 0
    certificates: int = 0
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": self.head,
            "determinations": self.determinations,
            "certificates": self.certificates,
            "problems": self.problems,
        }


def verify(s: Session) -> AuditReport:
    """Walk the chain and re-hash every record; list every break found (an empty list means intact)."""
    problems: list[str] = []
    prev, expected_id, n = GENESIS, 1, 0
    created: dict[tuple[str, str], str] = {}
    for e in s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars():
        n += 1
        if e.id != expected_id:
            problems.append(f"audit entry {expected_id} is missing (next is {e.id})")
        if e.prev_hash != prev:
            problems.append(f"audit entry {e.id}: previous-hash link broken")
        if _entry_hash(e) != e.hash:
            problems.append(f"audit entry {e.id}: content does not match its hash (altered)")
        if e.action in ("determination.create", "certificate.create"):
            try:
                created[(e.object_type, e.object_id)] = json.loads(e.detail_json).get("content_hash", "")
            except ValueError:
                problems.append(f"audit entry {e.id}: detail is not JSON")
        prev, expected_id = e.hash, e.id + 1
    dets = certs = 0
    for d in s.execute(select(DeterminationRecord).order_by(DeterminationRecord.id)).scalars():
        dets += 1
        h = determination_hash(d)
        if h != d.content_hash:
            problems.append(f"determination {d.id}: content does not match its hash (altered)")
        logged = created.get(("determination", str(d.id)))
        if logged is None:
            problems.append(f"determination {d.id}: no audit entry records its creation")
        elif logged != h:
            problems.append(f"determination {d.id}: differs from the content recorded in the audit log")
    for c in s.execute(select(Certificate).order_by(Certificate.created_at)).scalars():
        certs += 1
        h = certificate_hash(c)
        if h != c.content_hash:
            problems.append(f"certificate {c.id}: content does not match its hash (altered)")
        logged = created.get(("certificate", c.id))
        if logged is None:
            problems.append(f"certificate {c.id}: no audit entry records its creation")
        elif logged != h:
            problems.append(f"certificate {c.id}: differs from the content recorded in the audit log")
    return AuditReport(
        ok=not problems, entries=n, head=prev, determinations=dets, certificates=certs, problems=problems
    )


# --- users and keys -----------------------------------------------------------------------------------------


def create_user(s: Session, username: str, password: str, role: str, actor: str) -> User:
    if role not in ROLES:
        raise InputError("role", role, f"a role is one of {', '.join(ROLES)}")
    if (
        not username
        or len(username) > 80
        or not username.replace("-", "").replace("_", "").replace(".", "").isalnum()
    ):
        raise InputError("username", username, "a username is 1-80 letters, digits, '.', '-' or '_'")
    if len(password) < 12:
        raise InputError("password", "***", "a password has at least 12 characters")
    if s.execute(select(User).where(User.username == username)).scalar_one_or_none():
        raise InputError("username", username, "this user already exists")
    u = User(username=username, password_hash=security.hash_password(password), role=role, created_at=now())
    s.add(u)
    s.flush()
    audit(s, actor, "user.create", "user", u.id, {"username": username, "role": role})
    return u


def set_role(s: Session, username: str, role: str, actor: str) -> User:
    if role not in ROLES:
        raise InputError("role", role, f"a role is one of {', '.join(ROLES)}")
    u = get_user(s, username)
    old, u.role = u.role, role
    audit(s, actor, "user.role", "user", u.id, {"username": username, "from": old, "to": role})
    return u


def get_user(s: Session, username: str) -> User:
    u = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if u is None:
        raise NotFoundError(f"no user {username!r}")
    return u


def check_password(s: Session, username: str, password: str) -> User | None:
    u = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if u is None or u.disabled:
        security.verify_password(password, _DUMMY)  # same work either way: no user enumeration by timing
        return None
    return u if security.verify_password(password, u.password_hash) else None


_DUMMY = security.hash_password("not-a-real-password")


def create_api_key(s: Session, username: str, name: str, actor: str) -> str:
    """Make a key for a user; the key itself is returned once and only its hash is stored."""
    u = get_user(s, username)
    key, prefix, digest = security.new_api_key()
    k = ApiKey(user_id=u.id, name=name[:80] or "key", prefix=prefix, key_hash=digest, created_at=now())
    s.add(k)
    s.flush()
    audit(s, actor, "api_key.create", "api_key", k.id, {"user": username, "name": k.name, "prefix": prefix})
    return key


def revoke_api_key(s: Session, key_id: int, actor: str) -> None:
    k = s.get(ApiKey, key_id)
    if k is None:
        raise NotFoundError(f"no API key {key_id}")
    k.revoked_at = now()
    audit(s, actor, "api_key.revoke", "api_key", k.id, {"prefix": k.prefix})


def user_for_key(s: Session, key: str) -> User | None:
    import hmac

    digest = security.hash_key(key)
    for k in s.execute(
        select(ApiKey).where(ApiKey.prefix == security.key_prefix(key), ApiKey.revoked_at.is_(None))
    ).scalars():
        if hmac.compare_digest(k.key_hash, digest):
            u = s.get(User, k.user_id)
            return u if u is not None and not u.disabled else None
    return None


# --- determinations -----------------------------------------------------------------------------------------


def determination_hash(d: DeterminationRecord) -> str:
    return sha256(
        canonical(
            {
                "id": d.id,
                "product_id": d.product_id,
                "bill_version_id": d.bill_version_id,
                "inputs_hash": d.inputs_hash,
                "status": d.status,
                "criterion": d.criterion,
                "rule_id": d.rule_id,
                "rules_vintage": d.rules_vintage,
                "data_vintage": d.data_vintage,
                "case": d.case_json,
                "result": d.result_json,
                "created_at": d.created_at,
                "created_by": d.created_by,
            }
        )
    )


def product_key(good: dict[str, Any]) -> str:
    if good.get("id"):
        return str(good["id"])
    return f"{good.get('hts')}|{good.get('description') or ''}"


def record_determination(
    s: Session, case: dict[str, Any], result: dict[str, Any], actor: str
) -> DeterminationRecord:
    """Store a determination with its inputs: the case (interchange §1) and the answer (interchange §2)."""
    _lock(s)
    good = case.get("good") or {}
    key = product_key(good)
    p = s.execute(select(Product).where(Product.key == key)).scalar_one_or_none()
    if p is None:
        p = Product(
            key=key,
            description=good.get("description"),
            hts=str(good.get("hts")),
            created_at=now(),
            created_by=actor,
        )
        s.add(p)
        s.flush()
        audit(s, actor, "product.create", "product", p.id, {"key": key})
    bill_json = canonical(case.get("materials") or [])
    bill_hash = sha256(bill_json)
    bv = (
        s.execute(
            select(BillVersion).where(BillVersion.product_id == p.id, BillVersion.bill_hash == bill_hash)
        )
        .scalars()
        .first()
    )
    if bv is None:
        last = s.execute(select(func.max(BillVersion.version)).where(BillVersion.product_id == p.id)).scalar()
        bv = BillVersion(
            product_id=p.id,
            version=(last or 0) + 1,
            bill_hash=bill_hash,
            bill_json=bill_json,
            created_at=now(),
            created_by=actor,
        )
        s.add(bv)
        s.flush()
        audit(
            s,
            actor,
            "bill.create",
            "bill_version",
            bv.id,
            {"product": key, "version": bv.version, "bill_hash": bill_hash},
        )
    # Certificates this answer will invalidate, found before it exists.
    invalidated = (
        []
        if result.get("status") == "originating"
        else [c.id for c in _certificates_of_product(s, p.id) if certificate_validity(s, c)["valid"]]
    )
    case_json = canonical(case)
    rule = result.get("rule") or {}
    vintage = result.get("vintage") or {}
    next_id = (s.execute(select(func.max(DeterminationRecord.id))).scalar() or 0) + 1
    d = DeterminationRecord(
        id=next_id,
        product_id=p.id,
        bill_version_id=bv.id,
        inputs_hash=sha256(case_json),
        status=str(result.get("status")),
        criterion=result.get("criterion"),
        rule_id=rule.get("id"),
        rules_vintage=_opt_str(vintage.get("rules")),
        data_vintage=_opt_str(vintage.get("schedule")),
        case_json=case_json,
        result_json=canonical(result),
        content_hash="",
        created_at=now(),
        created_by=actor,
    )
    d.content_hash = determination_hash(d)  # computed before insert: the row is never updated
    s.add(d)
    s.flush()
    audit(
        s,
        actor,
        "determination.create",
        "determination",
        d.id,
        {"content_hash": d.content_hash, "status": d.status, "product": key, "bill_version": bv.version},
    )
    for cid in invalidated:
        audit(
            s,
            actor,
            "certificate.invalidated",
            "certificate",
            cid,
            {"by_determination": d.id, "status": d.status},
        )
    return d


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)[:80]


def get_determination(s: Session, det_id: int) -> DeterminationRecord:
    d = s.get(DeterminationRecord, det_id)
    if d is None:
        raise NotFoundError(f"no determination {det_id}")
    return d


def determination_view(s: Session, d: DeterminationRecord) -> dict[str, Any]:
    p = s.get(Product, d.product_id)
    bv = s.get(BillVersion, d.bill_version_id)
    return {
        "id": d.id,
        "product": p.key if p else None,
        "bill_version": bv.version if bv else None,
        "inputs_hash": d.inputs_hash,
        "status": d.status,
        "criterion": d.criterion,
        "rule_id": d.rule_id,
        "vintage": {"rules": d.rules_vintage, "schedule": d.data_vintage},
        "created_at": d.created_at,
        "created_by": d.created_by,
        "archived": is_archived(s, "determination", str(d.id)),
        "result": json.loads(d.result_json),
        "case": json.loads(d.case_json),
    }


def list_determinations(
    s: Session, product: str | None = None, limit: int = 50, offset: int = 0, include_archived: bool = False
) -> list[DeterminationRecord]:
    q = select(DeterminationRecord).order_by(DeterminationRecord.id.desc())
    if product is not None:
        q = q.join(Product, Product.id == DeterminationRecord.product_id).where(Product.key == product)
    if not include_archived:
        archived = select(Archive.object_id).where(Archive.object_type == "determination")
        q = q.where(cast(DeterminationRecord.id, String).not_in(archived))
    return list(s.execute(q.limit(limit).offset(offset)).scalars())


# --- certificates -------------------------------------------------------------------------------------------


def certificate_hash(c: Certificate) -> str:
    return sha256(
        canonical(
            {
                "id": c.id,
                "determination_id": c.determination_id,
                "elements": c.elements_json,
                "created_at": c.created_at,
                "created_by": c.created_by,
            }
        )
    )


def store_certificate(s: Session, determination_id: int, elements: dict[str, Any], actor: str) -> Certificate:
    c = Certificate(
        id=str(uuid.uuid4()),
        determination_id=determination_id,
        elements_json=canonical(elements),
        content_hash="",
        created_at=now(),
        created_by=actor,
    )
    c.content_hash = certificate_hash(c)
    s.add(c)
    s.flush()
    audit(
        s,
        actor,
        "certificate.create",
        "certificate",
        c.id,
        {"content_hash": c.content_hash, "determination": determination_id},
    )
    return c


def get_certificate(s: Session, cert_id: str) -> Certificate:
    c = s.get(Certificate, cert_id)
    if c is None:
        raise NotFoundError(f"no certificate {cert_id!r}")
    return c


def _certificates_of_product(s: Session, product_id: int) -> list[Certificate]:
    return list(
        s.execute(
            select(Certificate)
            .join(DeterminationRecord, DeterminationRecord.id == Certificate.determination_id)
            .where(DeterminationRecord.product_id == product_id)
        ).scalars()
    )


def certificate_validity(s: Session, c: Certificate) -> dict[str, Any]:
    """Invalid once a later determination for the same good (any bill or rule version) no longer qualifies."""
    d = get_determination(s, c.determination_id)
    later = s.execute(
        select(DeterminationRecord)
        .where(
            DeterminationRecord.product_id == d.product_id,
            DeterminationRecord.id > d.id,
            DeterminationRecord.status != "originating",
        )
        .order_by(DeterminationRecord.id)
        .limit(1)
    ).scalar_one_or_none()
    if later is None:
        return {"valid": True, "reason": None, "superseded_by": None}
    bv_then, bv_now = s.get(BillVersion, d.bill_version_id), s.get(BillVersion, later.bill_version_id)
    why = []
    if bv_then and bv_now and bv_then.version != bv_now.version:
        why.append(f"bill version {bv_then.version} -> {bv_now.version}")
    if (d.rule_id, d.rules_vintage) != (later.rule_id, later.rules_vintage):
        why.append(f"rule {d.rule_id} ({d.rules_vintage}) -> {later.rule_id} ({later.rules_vintage})")
    return {
        "valid": False,
        "superseded_by": later.id,
        "reason": f"determination {later.id} of {later.created_at} found the good {later.status}"
        + (f" ({'; '.join(why)})" if why else ""),
    }


def certificate_view(s: Session, c: Certificate) -> dict[str, Any]:
    return {
        "id": c.id,
        "determination_id": c.determination_id,
        "created_at": c.created_at,
        "created_by": c.created_by,
        "content_hash": c.content_hash,
        "elements": json.loads(c.elements_json),
        "validity": certificate_validity(s, c),
        "archived": is_archived(s, "certificate", c.id),
    }


# --- archiving and export -----------------------------------------------------------------------------------

ARCHIVABLE = {"determination": DeterminationRecord, "certificate": Certificate, "product": Product}


def archive(s: Session, object_type: str, object_id: str, reason: str, actor: str) -> Archive:
    model = ARCHIVABLE.get(object_type)
    if model is None:
        raise InputError("object_type", object_type, f"one of {', '.join(ARCHIVABLE)} can be archived")
    key: Any = object_id
    if object_type != "certificate":
        if not (object_id.isdigit() and 0 < int(object_id) < 2**31):
            raise InputError("object_id", object_id, f"a {object_type} id is a positive whole number")
        key = int(object_id)
    if s.get(model, key) is None:
        raise NotFoundError(f"no {object_type} {object_id!r}")
    if not reason.strip():
        raise InputError("reason", reason, "say why the record is archived")
    a = Archive(
        object_type=object_type, object_id=str(object_id), reason=reason, created_at=now(), created_by=actor
    )
    s.add(a)
    s.flush()
    audit(s, actor, "archive", object_type, object_id, {"reason": reason})
    return a


def is_archived(s: Session, object_type: str, object_id: str) -> bool:
    return (
        s.execute(
            select(Archive.id)
            .where(Archive.object_type == object_type, Archive.object_id == object_id)
            .limit(1)
        ).first()
        is not None
    )


def export_record(s: Session, product: str) -> dict[str, Any]:
    """Everything kept about one good, as one document an auditor can read."""
    p = s.execute(select(Product).where(Product.key == product)).scalar_one_or_none()
    if p is None:
        raise NotFoundError(f"no product {product!r}")
    bills = s.execute(
        select(BillVersion).where(BillVersion.product_id == p.id).order_by(BillVersion.version)
    ).scalars()
    dets = s.execute(
        select(DeterminationRecord)
        .where(DeterminationRecord.product_id == p.id)
        .order_by(DeterminationRecord.id)
    ).scalars()
    certs = _certificates_of_product(s, p.id)
    ids = {("product", str(p.id))}
    det_list = [determination_view(s, d) for d in dets]
    ids |= {("determination", str(d["id"])) for d in det_list}
    ids |= {("certificate", c.id) for c in certs}
    entries = [
        e
        for e in s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
        if (e.object_type, e.object_id) in ids
    ]
    return {
        "product": {"key": p.key, "description": p.description, "hts": p.hts, "created_at": p.created_at},
        "bill_versions": [
            {
                "version": b.version,
                "bill_hash": b.bill_hash,
                "materials": json.loads(b.bill_json),
                "created_at": b.created_at,
                "created_by": b.created_by,
            }
            for b in bills
        ],
        "determinations": det_list,
        "certificates": [certificate_view(s, c) for c in certs],
        "audit": [
            {
                "id": e.id,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "object_type": e.object_type,
                "object_id": e.object_id,
                "detail": json.loads(e.detail_json),
                "hash": e.hash,
            }
            for e in entries
        ],
    }


def fail_interrupted_jobs(s: Session) -> int:
    """At start-up, no job can be running: any marked queued or running was cut off by a stop; say so."""
    from usmca.app.models import Job

    n = 0
    for j in s.execute(select(Job).where(Job.status.in_(("queued", "running")))).scalars():
        j.status, j.error, j.finished_at = (
            "failed",
            "interrupted: the server stopped during the run; start it again",
            now(),
        )
        n += 1
    return n
