"""/api/v1/phone-numbers: the organization's numbers, Twilio search/buy/import, assignment, release.

Thin on purpose: ``services.phone_numbers`` holds every rule (permissions, tenancy, who owns a
number, talking to Twilio); this module only shapes requests and responses.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from voice_platform.api.deps import CurrentUser, SessionDep
from voice_platform.api.schemas import E164, declared
from voice_platform.services import phone_numbers as numbers

router = APIRouter(prefix="/phone-numbers", tags=["phone numbers"])
_SCOPED = {401: {"description": "Not signed in"}, 403: {"description": "Not allowed"}, 404: {"description": "Not found"}}
_TWILIO = {502: {"description": "Twilio refused or did not answer (Twilio's message)"},
           503: {"description": "Twilio is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)"}}
_TAKEN = {409: {"description": "The number belongs to another organization, or already to this one"}}


class PhoneNumberOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    phone_number: str
    source: str
    friendly_name: str | None
    provider_sid: str | None
    agent_id: uuid.UUID | None
    agent_name: str | None
    # What the number's voice URL and status callback must be (paste them for a manual number).
    voice_url: str
    status_callback_url: str


class AvailableNumberOut(BaseModel):
    phone_number: str
    friendly_name: str
    locality: str
    region: str
    iso_country: str


class ImportableNumberOut(BaseModel):
    sid: str
    phone_number: str
    friendly_name: str
    voice_url: str


class BuyIn(BaseModel):
    phone_number: str = Field(max_length=32, **E164)


class ImportIn(BaseModel):
    """The number, or its SID: exactly one of the two."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["phone_number"]}, {"required": ["sid"]}]})
    phone_number: str = Field(default=None, max_length=32, **E164)  # type: ignore[assignment]
    sid: str = Field(default=None, max_length=34, description="Twilio's IncomingPhoneNumber SID (PN...)",  # type: ignore[assignment]
                     **declared(pattern=numbers.SID_PATTERN))


class AssignIn(BaseModel):
    agent_id: uuid.UUID | None = Field(description="The agent the number reaches; null unassigns it")


def _out(view: numbers.NumberView) -> PhoneNumberOut:
    status_ = numbers.provider_status()
    n = view.number
    return PhoneNumberOut(id=n.id, organization_id=n.organization_id, phone_number=n.e164, source=n.source,
                          friendly_name=n.friendly_name, provider_sid=n.provider_sid, agent_id=view.agent_id,
                          agent_name=view.agent_name, voice_url=status_.voice_url,
                          status_callback_url=status_.status_callback_url)


def _one(session, user, number_id: uuid.UUID) -> PhoneNumberOut:
    number = numbers.get_number(session, user, number_id, permission=numbers.READ)
    view = next(v for v in numbers.list_numbers(session, user, number.organization_id) if v.number.id == number_id)
    return _out(view)


@router.get("/organization/{org_id}", response_model=list[PhoneNumberOut], responses=_SCOPED)
def list_numbers(org_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> list[PhoneNumberOut]:
    return [_out(v) for v in numbers.list_numbers(session, user, org_id)]


@router.get("/organization/{org_id}/available", response_model=list[AvailableNumberOut],
            responses={**_SCOPED, **_TWILIO, 422: {"description": "Invalid filter"}})
def search_available(
    org_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    country: Annotated[str, Query(max_length=2, description="ISO country code",
                                  **declared(pattern=numbers.COUNTRY_PATTERN))] = "US",
    area_code: Annotated[str | None, Query(max_length=5, **declared(pattern=numbers.AREA_CODE_PATTERN))] = None,
    contains: Annotated[str | None, Query(max_length=18, description="Digits the number contains; * = any digit",
                                          **declared(pattern=numbers.CONTAINS_PATTERN))] = None,
) -> list[AvailableNumberOut]:
    found = numbers.search_available(session, user, org_id, country=country, area_code=area_code, contains=contains)
    return [AvailableNumberOut(phone_number=n.e164, friendly_name=n.friendly_name, locality=n.locality,
                               region=n.region, iso_country=n.iso_country) for n in found]


@router.post("/organization/{org_id}", response_model=PhoneNumberOut, status_code=status.HTTP_201_CREATED,
             responses={**_SCOPED, **_TWILIO, **_TAKEN})
def buy(org_id: uuid.UUID, body: BuyIn, user: CurrentUser, session: SessionDep) -> PhoneNumberOut:
    bought = numbers.buy(session, user, org_id, body.phone_number)
    return _out(numbers.NumberView(number=bought, agent_id=None, agent_name=None))


@router.get("/organization/{org_id}/importable", response_model=list[ImportableNumberOut],
            responses={**_SCOPED, **_TWILIO})
def list_importable(org_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> list[ImportableNumberOut]:
    return [ImportableNumberOut(sid=n.sid, phone_number=n.e164, friendly_name=n.friendly_name, voice_url=n.voice_url)
            for n in numbers.importable(session, user, org_id)]


@router.post("/organization/{org_id}/import", response_model=PhoneNumberOut, status_code=status.HTTP_201_CREATED,
             responses={**_SCOPED, **_TWILIO, **_TAKEN})
def import_number(org_id: uuid.UUID, body: ImportIn, user: CurrentUser, session: SessionDep) -> PhoneNumberOut:
    imported = numbers.import_number(session, user, org_id, phone_number=body.phone_number, sid=body.sid)
    return _one(session, user, imported.id)


@router.put("/{number_id}/agent", response_model=PhoneNumberOut, responses={**_SCOPED, 409: {"description": "Conflict"}})
def assign(number_id: uuid.UUID, body: AssignIn, user: CurrentUser, session: SessionDep) -> PhoneNumberOut:
    if body.agent_id is None:
        numbers.unassign(session, user, number_id)
    else:
        numbers.assign(session, user, number_id, body.agent_id)
    return _one(session, user, number_id)


@router.delete("/{number_id}", status_code=status.HTTP_204_NO_CONTENT, responses={**_SCOPED, **_TWILIO})
def release(number_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    numbers.release(session, user, number_id)
