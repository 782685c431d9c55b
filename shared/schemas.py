"""API schemas the case-handling services share: the spine's applicant and material bodies."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from shared.identity_numbers import InvalidIdNumber, mask_id_number, mask_name, validate_id_number


class Applicant(BaseModel):
    name: str = Field(min_length=1, max_length=50, description="申请人姓名")
    id_number: str = Field(description="18-digit 居民身份证号; the GB 11643 check digit is verified")
    phone: str | None = Field(default=None, max_length=20)

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
        from shared.identity_numbers import mask_phone

        return cls(
            name=mask_name(name),
            id_number=mask_id_number(id_number),
            phone=mask_phone(phone) if phone else None,
        )


class MaterialIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class CaseSubmission(BaseModel):
    """The spine's body for collecting a case at a village or receiving one at a window."""

    item_code: str = Field(min_length=1, max_length=64)
    applicant: Applicant
    materials: list[MaterialIn] = Field(default_factory=list, max_length=100)
