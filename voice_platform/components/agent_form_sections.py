"""The agent form's newer settings: outbound calls (voicemail), warm or cold transfer, and
"After the call" (the post-call analysis plan with its list of fields to extract).

Drawn inside the agent form (``pages/agent_form.py``), so every text input here travels with the
form's submit; selects and switches are the state's (``AgentFormState``). The plan's field rows are
keyed by their stable ``key`` (state/agent_plan.py): removing one never moves typed text.
"""

from __future__ import annotations

import reflex as rx

from voice_platform.components.fields import field_error, form_field, text_field
from voice_platform.state.agent_plan import FIELD_TYPES, PLAN_ERROR
from voice_platform.state.agents import AgentFormState as S

VOICEMAIL_ACTIONS = (("hangup", "Hang up"), ("leave_message", "Leave a message"), ("continue", "Let the agent talk"))
TRANSFER_MODES = (("cold", "Cold: put the caller straight through"),
                  ("warm", "Warm: brief the person first, they press 1 to take the call"))
CHOICES_HINT = "Booked, Called back, Not interested"


def labelled_select(label: str, name: str, options: tuple[tuple[str, str], ...], value: rx.Var, on_change,
                    hint: str = "") -> rx.Component:
    """A select whose items show words while the state keeps the service's value."""
    control = rx.select.root(
        rx.select.trigger(id=name, aria_label=label, aria_describedby=f"{name}-error", width="100%"),
        rx.select.content(*[rx.select.item(text, value=option) for option, text in options]),
        value=value, on_change=on_change, size="3",
    )
    return form_field(label, name, control, S.errors, hint)


def transfer_mode_field() -> rx.Component:
    return rx.vstack(
        labelled_select("Transfer mode", "transfer_mode", TRANSFER_MODES, S.transfer_mode, S.set_transfer_mode,
                        hint="Warm: the caller waits with music while the person hears a short briefing written "
                             "by the agent; if they decline, the caller is back with the agent."),
        # Always in the form (hidden unless warm), so an address typed earlier is not lost by switching.
        rx.box(
            text_field("Hold music", "hold_music_url", S.errors, default_value=S.values["hold_music_url"].to(str),
                       placeholder="https://example.com/hold-music.mp3",
                       hint="An MP3 or WAV file the caller hears while they wait. Empty: Twilio's hold music."),
            display=rx.cond(S.transfer_mode == "warm", "block", "none"),
            width="100%",
        ),
        spacing="4", width="100%",
    )


def outbound_fields() -> tuple[rx.Component, ...]:
    """When an outbound call reaches an answering machine: what the agent does."""
    return (
        labelled_select("When a machine answers", "voicemail_action", VOICEMAIL_ACTIONS, S.voicemail_action,
                        S.set_voicemail_action,
                        hint="Twilio's answering-machine detection tells a person from a voicemail box."),
        # Always in the form (hidden unless used), so a message typed earlier is not lost by switching.
        rx.box(
            text_field("Voicemail message", "voicemail_message", S.errors,
                       default_value=S.values["voicemail_message"].to(str), multiline=True,
                       placeholder="Hi {{name}}, this is Bright Smiles confirming your appointment tomorrow. "
                                   "Call us back at +14155550100.",
                       hint="Spoken after the beep, then the call ends. {{name}}-style placeholders are filled "
                            "from the call's variables (and caller_number, agent_number, now)."),
            display=rx.cond(S.voicemail_action == "leave_message", "block", "none"),
            width="100%",
        ),
    )


def _row_invalid(row: rx.Var, part: str) -> rx.Var:
    return rx.cond((row["error"].to(str) != "") & (row["error_part"].to(str) == part), "true", "false")


def plan_field_row(row: rx.Var, index: rx.Var) -> rx.Component:
    key = row["key"].to(str)
    number = (index + 1).to_string()

    def name(part: str) -> rx.Var:
        return "plan_" + key + "_" + part

    return rx.box(
        rx.vstack(
            rx.hstack(
                rx.input(name=name("name"), default_value=row["name"].to(str), placeholder="preferred_date",
                         aria_label="Name of field " + number, aria_invalid=_row_invalid(row, "name"),
                         size="2", flex="1", min_width="140px", font_family="var(--code-font-family)"),
                rx.select.root(
                    rx.select.trigger(aria_label="Type of field " + number, min_width="110px"),
                    rx.select.content(*[rx.select.item(t, value=t) for t in FIELD_TYPES]),
                    value=row["type"].to(str), on_change=lambda value: S.set_plan_type(key, value), size="2",
                ),
                rx.text(
                    rx.checkbox(checked=row["required"].to(bool), on_change=lambda value: S.set_plan_required(key, value),
                                aria_label="Field " + number + " is required"),
                    "Required", size="2", as_="label", display="flex", align_items="center", gap="6px",
                ),
                rx.icon_button(rx.icon("x", size=14), type="button", variant="ghost", color_scheme="gray",
                               on_click=S.remove_plan_field(key), aria_label="Remove field " + number),
                align="center", spacing="3", width="100%", wrap="wrap",
            ),
            rx.input(name=name("description"), default_value=row["description"].to(str),
                     placeholder="What the value is, in words the model understands",
                     aria_label="Description of field " + number, aria_invalid=_row_invalid(row, "description"),
                     size="2", width="100%"),
            rx.cond(
                row["type"].to(str) == "enum",
                rx.input(name=name("choices"), default_value=row["choices"].to(str), placeholder=CHOICES_HINT,
                         aria_label="Choices of field " + number, aria_invalid=_row_invalid(row, "choices"),
                         size="2", width="100%"),
            ),
            rx.cond(row["error"].to(str) != "",
                    rx.hstack(rx.icon("circle-alert", size=14, flex_shrink="0"), rx.text(row["error"].to(str), size="1"),
                              color=rx.color("red", 11), role="alert", align="center", spacing="1",
                              data_testid="plan-field-error")),
            spacing="2", width="100%",
        ),
        key=key,
        padding="12px", border_radius="10px", border=f"1px solid {rx.color('gray', 5)}", width="100%",
        data_testid="plan-field",
    )


def plan_fields() -> tuple[rx.Component, ...]:
    """The summary prompt, the success rubric and the typed values to extract."""
    v = S.values
    return (
        text_field("Summary instructions", "summary_prompt", S.errors, default_value=v["summary_prompt"].to(str),
                   multiline=True, placeholder="Who called, what they wanted, and what was done.",
                   hint="Empty: a two or three sentence summary of who called, what they wanted and what was done."),
        text_field("Success rubric", "success_rubric", S.errors, default_value=v["success_rubric"].to(str),
                   multiline=True, placeholder="The call succeeded when an appointment was booked.",
                   hint="When set, every call gets a verdict (successful or not) with a one-line reason. "
                        "Empty: no verdict."),
        rx.vstack(
            rx.text("Fields to extract", size="2", weight="medium"),
            rx.text("Typed values the analysis fills from the conversation (empty when the call did not say). "
                    "A required field that stays empty makes the call unsuccessful. The caller's sentiment is "
                    "always noted.", size="1", color_scheme="gray"),
            rx.foreach(S.plan_rows, plan_field_row),
            field_error(S.errors, PLAN_ERROR),
            rx.button(rx.icon("plus", size=14), "Add field", type="button", variant="soft", size="2",
                      on_click=S.add_plan_field, disabled=~S.can_add_plan_field, aria_label="Add field"),
            spacing="2", width="100%",
        ),
    )
