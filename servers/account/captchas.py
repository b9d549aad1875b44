"""Image captchas: made on request, stored durably (only a hash of the answer), spent by
their first use right or wrong, refused after they expire.

With PALMGRID_DEV_CAPTCHA set (dev profile only) every captcha's answer is that value,
so scripts and tests can log in; the image shows it like any other answer.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from datetime import datetime, timedelta

from captcha.image import ImageCaptcha
from sqlalchemy import delete, update
from sqlmodel import Session, col

from palmgrid.account.v1 import resources_pb2 as account_pb
from servers.account import models
from servers.runtime import FieldViolation, InvalidArgument, Runtime

# No 0/O, 1/I/L: answers people can read back.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 5
# Spent and expired captchas are kept this long after expiry, then deleted.
KEEP_AFTER_EXPIRY = timedelta(hours=1)

_images = threading.local()


def _image_maker() -> ImageCaptcha:
    # ImageCaptcha caches fonts per instance and is not thread-safe: one per thread.
    maker: ImageCaptcha | None = getattr(_images, "maker", None)
    if maker is None:
        maker = _images.maker = ImageCaptcha(width=160, height=60)
    return maker


def _answer_hash(captcha_id: str, answer: str) -> bytes:
    return hashlib.sha256(f"{captcha_id}:{answer.strip().upper()}".encode()).digest()


def create(
    session: Session, *, now: datetime, lifetime: timedelta, fixed_answer: str | None
) -> account_pb.Captcha:
    """A new captcha (image and expiry), stored in the session's transaction."""
    captcha_id = secrets.token_hex(16)
    answer = fixed_answer or "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    image = _image_maker().generate(answer).getvalue()
    expire_time = now + lifetime
    session.add(
        models.Captcha(
            id=captcha_id,
            answer_hash=_answer_hash(captcha_id, answer),
            create_time=now,
            expire_time=expire_time,
        )
    )
    session.execute(
        delete(models.Captcha).where(col(models.Captcha.expire_time) < now - KEEP_AFTER_EXPIRY)
    )
    message = account_pb.Captcha(name=f"captchas/{captcha_id}", image_png=image)
    message.expire_time.FromDatetime(expire_time)
    return message


def _invalid() -> InvalidArgument:
    return InvalidArgument(
        "the captcha is unknown, used, expired or answered wrongly",
        reason="CAPTCHA_INVALID",
        field_violations=[
            FieldViolation("captchaAnswer", "does not answer a valid captcha", "CAPTCHA_INVALID")
        ],
    )


def _spend(session: Session, captcha_id: str, answer: str, now: datetime) -> bool:
    spent = session.execute(
        update(models.Captcha)
        .where(col(models.Captcha.id) == captcha_id, col(models.Captcha.used_time).is_(None))
        .values(used_time=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        return False
    row = session.get(models.Captcha, captcha_id)
    return (
        row is not None
        and now < row.expire_time
        and hmac.compare_digest(row.answer_hash, _answer_hash(captcha_id, answer))
    )


def spend(runtime: Runtime, name: str, answer: str, *, now: datetime) -> None:
    """Use up captcha `name` ("captchas/{id}") in a transaction of its own, then raise
    InvalidArgument (CAPTCHA_INVALID) if it was unknown, spent, expired or answered
    wrongly: a captcha is spent by its first use, right or wrong."""
    with runtime.session(write=True) as session:
        valid = _spend(session, name.removeprefix("captchas/"), answer, now)
    if not valid:
        raise _invalid()
