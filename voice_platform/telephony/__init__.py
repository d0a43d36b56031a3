"""Adapters to the phone network: Twilio (TwiML, REST, numbers) and LiveKit (SIP trunk, dispatch).

No business rules here; services decide, these speak the providers' wire formats.
"""
