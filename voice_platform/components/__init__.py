"""Shared UI pieces: the signed-in layout, form fields, empty and loading states."""

from voice_platform.components.feedback import empty_state, error_callout, not_found_state, page_skeleton
from voice_platform.components.fields import field_error, form_field, select_field, text_field
from voice_platform.components.layout import app_layout, auth_card, auth_footer, auth_form, page_header, signed_in_page

__all__ = [
    "app_layout",
    "auth_card",
    "auth_footer",
    "auth_form",
    "empty_state",
    "error_callout",
    "field_error",
    "form_field",
    "not_found_state",
    "page_header",
    "page_skeleton",
    "select_field",
    "signed_in_page",
    "text_field",
]
