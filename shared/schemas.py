"""API schemas the case-handling services share: the spine's applicant and material bodies."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from shared.case_status import CaseStatus
from shared.identity_numbers import (
    InvalidIdNumber,
    mask_id_number,
    mask_name,
    mask_phone,
    validate_id_number,
)
from shared.text import PersonName, PhoneNumber, ShortText

# An item code as the catalogue writes it (its path parameter); a case names one.
ITEM_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# Materials of one submission, of one acceptance, or of one item: more is no real case (an item lists
# a dozen or two), and every one of them travels in the case's events.
MAX_MATERIALS = 100


class Applicant(BaseModel):
    name: PersonName = Field(description="申请人姓名 (no control or invisible characters)")
    id_number: str = Field(
        max_length=24, description="18-digit 居民身份证号; the GB 11643 check digit is verified"
    )
    phone: PhoneNumber | None = Field(
        default=None, description="Mainland mobile (13812345678) or landline (0534-4221234)"
    )

    @field_validator("id_number")
    @classmethod
    def _valid_id_number(cls, value: str) -> str:
        try:
            return validate_id_number(value)
        except InvalidIdNumber as exc:
            raise ValueError(str(exc)) from exc


class ApplicantMasked(BaseModel):
    """The applicant as every list and read shows it: 身份证号 and name masked."""

    name: str
    id_number: str
    phone: str | None = None

    @classmethod
    def of(cls, name: str, id_number: str, phone: str | None) -> ApplicantMasked:
        return cls(
            name=mask_name(name),
            id_number=mask_id_number(id_number),
            phone=mask_phone(phone) if phone else None,
        )


class CaseCreated(BaseModel):
    """The answer to creating a case (an agent's collect, a window's walk-in): its number and place."""

    case_id: str = Field(description="办件编号, minted where the case was first received")
    current_org: str
    status: CaseStatus


class HandoffResult(BaseModel):
    """The answer to a hand-up (village → town, or hall → the hall above): where the case is now."""

    case_id: str
    current_org: str


class MaterialIn(BaseModel):
    name: ShortText


class CaseSubmission(BaseModel):
    """The spine's body for collecting a case at a village or receiving one at a window."""

    item_code: str = Field(min_length=1, max_length=64, pattern=ITEM_CODE_PATTERN)
    applicant: Applicant
    materials: list[MaterialIn] = Field(default_factory=list, max_length=MAX_MATERIALS)
