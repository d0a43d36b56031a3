"""/api/v1/organizations: organizations and their members."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from voice_platform.api.deps import CurrentUser, SessionDep
from voice_platform.api.schemas import MemberIn, MemberOut, MemberRoleIn, OrgIn, OrgOut, OrgUpdate
from voice_platform.services import organizations as org_service

router = APIRouter(prefix="/organizations", tags=["organizations"])
_SCOPED = {401: {"description": "Not signed in"}, 403: {"description": "Not allowed"}, 404: {"description": "Not found"}}


def _org_out(org, role: str) -> OrgOut:
    return OrgOut(
        id=org.id,
        name=org.name,
        business_details=org.business_details,
        timezone=org.timezone,
        role=role,
        created_at=org.created_at,
        updated_at=org.updated_at,
    )


def _member_out(m: org_service.Member) -> MemberOut:
    return MemberOut(user_id=m.user_id, email=m.email, full_name=m.full_name, role=m.role)


@router.post("", response_model=OrgOut, status_code=status.HTTP_201_CREATED, responses=_SCOPED)
def create_organization(body: OrgIn, user: CurrentUser, session: SessionDep) -> OrgOut:
    org = org_service.create_organization(session, user, name=body.name, business_details=body.business_details)
    return _org_out(org, "org_admin")


@router.get("", response_model=list[OrgOut], responses=_SCOPED)
def list_organizations(user: CurrentUser, session: SessionDep) -> list[OrgOut]:
    return [_org_out(o.organization, o.role) for o in org_service.list_organizations(session, user)]


@router.get("/{org_id}", response_model=OrgOut, responses=_SCOPED)
def get_organization(org_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> OrgOut:
    found = org_service.get_organization(session, user, org_id)
    return _org_out(found.organization, found.role)


@router.put("/{org_id}", response_model=OrgOut, responses=_SCOPED)
def update_organization(org_id: uuid.UUID, body: OrgUpdate, user: CurrentUser, session: SessionDep) -> OrgOut:
    org_service.update_organization(session, user, org_id, body.model_dump(exclude_unset=True))
    found = org_service.get_organization(session, user, org_id)
    return _org_out(found.organization, found.role)


@router.get("/{org_id}/members", response_model=list[MemberOut], responses=_SCOPED)
def list_members(org_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> list[MemberOut]:
    return [_member_out(m) for m in org_service.list_members(session, user, org_id)]


@router.post("/{org_id}/members", response_model=MemberOut, status_code=status.HTTP_201_CREATED, responses=_SCOPED)
def add_member(org_id: uuid.UUID, body: MemberIn, user: CurrentUser, session: SessionDep) -> MemberOut:
    return _member_out(org_service.add_member(session, user, org_id, email=body.email, role=body.role))


@router.put("/{org_id}/members/{user_id}", response_model=MemberOut, responses=_SCOPED)
def change_member_role(
    org_id: uuid.UUID, user_id: uuid.UUID, body: MemberRoleIn, user: CurrentUser, session: SessionDep
) -> MemberOut:
    return _member_out(org_service.change_member_role(session, user, org_id, user_id, role=body.role))


@router.delete("/{org_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_SCOPED)
def remove_member(org_id: uuid.UUID, user_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    org_service.remove_member(session, user, org_id, user_id)


@router.post("/{org_id}/leave", status_code=status.HTTP_204_NO_CONTENT, responses=_SCOPED)
def leave_organization(org_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    """The caller leaves the organization (refused, 409, for its last org admin)."""
    org_service.leave_organization(session, user, org_id)
